"""Encode-speed benchmark on 2 cores: texts/second for result texts (title+abstract+keywords).

Usage: python -m research.bench_encode MODEL_DIR [N] [--variants fp32,int8,len256,...]
"""

from __future__ import annotations

import re
import sys
import time

import torch

from matching.matcher.evaluation import result_text
from research.common import DEV, load_jsonl


def main() -> None:
    from sentence_transformers import SentenceTransformer

    path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300
    variants = sys.argv[3].split(",") if len(sys.argv) > 3 else ["fp32", "len256", "int8"]
    results = load_jsonl(DEV / "results.jsonl")[:n]
    texts = [result_text(r["title"], r["abstract"], r["keywords"]) for r in results]
    print(f"torch threads {torch.get_num_threads()}, {n} texts, {sum(map(len, texts))} chars")
    ref = None
    for v in variants:
        model = SentenceTransformer(path, device="cpu")
        if "len256" in v:
            model.max_seq_length = 256
        if "int8" in v:
            model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        m_ = re.search(r"bs(\d+)", v)
        bs = int(m_.group(1)) if m_ else 32
        model.encode(texts[:8], prompt_name="document")
        t0 = time.perf_counter()
        vecs = model.encode(texts, prompt_name="document", batch_size=bs)
        dt = time.perf_counter() - t0
        ref = vecs if ref is None else ref
        cos = (ref * vecs).sum(1)
        print(
            f"{v:14s} {n / dt:6.1f} texts/s  ({dt:.1f}s)  cos vs first: min {cos.min():.4f} "
            f"mean {cos.mean():.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
