"""Quality per FLOP of the embedding model (issue 17): today's model against the configured one,
in the same run.

- **baseline**: the default model (``var/models/default``, torch fp32) at 128 tokens, as matching
  ran before ``EMBEDDING_MAX_TOKENS``;
- **configured**: ``MATCHER_MODEL`` at ``EMBEDDING_MAX_TOKENS`` (what the service runs now), plus
  any extra input lengths in ``BENCH_ENCODE_LENGTHS`` (e.g. ``64,96``) of the configured model.

Speed: texts/s of ``matching.matcher.embedding.encode`` (batch 32, document prompt) on the first
``BENCH_ENCODE_N`` (500) dev result texts, each variant warmed up first and then timed in
``BENCH_ENCODE_ROUNDS`` (3) interleaved rounds (baseline, configured, …, baseline, configured, …)
so load on the machine hits them alike; the best round counts. Quality: the fused nDCG@10 of the
service's ranking (``matching.matcher.evaluation``: dense + BM25 + field fit) on the dev split
(``../shared/eval/dev``, ``BENCH_EVAL_DIR``) and on ``research/paraphrase_dev`` (its demands, the
dev results), ``BENCH_ENCODE_SETS`` (``dev,paraphrase``; empty: no quality). Each model encodes
the 1,713 results once for both sets.

``BENCH_ENCODE_EVAL_LIMIT`` (0: all) keeps only the labelled results plus that many others: a
quick check that the bench runs, not a quality figure (the JSON says ``"subsampled": true``).
The last line printed is the JSON; it is appended to ``var/bench/encode.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import corpus

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "var" / "bench" / "encode.jsonl"
PARAPHRASE_DIR = BASE_DIR / "research" / "paraphrase_dev"
BASELINE_TOKENS = 128
RATIO_TARGET = 1.5
NDCG_TOLERANCE = 0.005


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@contextlib.contextmanager
def _memoised_encode() -> Iterator[None]:
    """Encode each (model, length, prompt, texts) once: both eval sets share the dev results."""
    from matching.matcher import embedding

    original = embedding.encode
    cache: dict[tuple, object] = {}

    def encode(texts, *, model_name=None, batch_size=32, kind=None, max_tokens=None):
        key = (model_name, max_tokens, kind, tuple(texts))
        if key not in cache:
            cache[key] = original(
                texts,
                model_name=model_name,
                batch_size=batch_size,
                kind=kind,
                max_tokens=max_tokens,
            )
        return cache[key]

    embedding.encode = encode
    try:
        yield
    finally:
        embedding.encode = original


def _eval_dirs(limit: int, workdir: Path) -> dict[str, Path]:
    """The eval sets asked for, as split directories (results linked or subsampled)."""
    from matching.matcher.evaluation import load_jsonl

    wanted = [s.strip() for s in os.environ.get("BENCH_ENCODE_SETS", "dev,paraphrase").split(",")]
    sources = {"dev": corpus.DEV_DIR, "paraphrase": PARAPHRASE_DIR}
    results = load_jsonl(corpus.DEV_DIR / "results.jsonl")
    dirs: dict[str, Path] = {}
    for name in [w for w in wanted if w]:
        source = sources[name]
        target = workdir / name
        target.mkdir()
        qrels = load_jsonl(source / "qrels.jsonl")
        kept = results
        if limit:
            labelled = {q["result_id"] for q in qrels}
            others = [r for r in results if r["id"] not in labelled][:limit]
            kept = [r for r in results if r["id"] in labelled] + others
        for filename, rows in (
            ("demands.jsonl", load_jsonl(source / "demands.jsonl")),
            ("qrels.jsonl", qrels),
            ("results.jsonl", kept),
        ):
            with (target / filename).open("w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        dirs[name] = target
    return dirs


def main() -> None:
    from django.conf import settings

    from matching.matcher import embedding
    from matching.matcher.evaluation import evaluate

    n = _env_int("BENCH_ENCODE_N", 500)
    rounds = _env_int("BENCH_ENCODE_ROUNDS", 3)
    limit = _env_int("BENCH_ENCODE_EVAL_LIMIT", 0)
    texts = [r.text for r in corpus.dev_results()[:n]]  # as the service composes a result
    baseline_model = str(settings.MATCHER_DEFAULT_MODEL_DIR)
    variants: list[dict] = [
        {"name": "baseline", "model": baseline_model, "max_tokens": BASELINE_TOKENS},
        {"name": "configured", "model": settings.MATCHER_MODEL, "max_tokens": None},
    ]
    for length in [
        int(x) for x in os.environ.get("BENCH_ENCODE_LENGTHS", "").split(",") if x.strip()
    ]:
        variants.append(
            {"name": f"len{length}", "model": settings.MATCHER_MODEL, "max_tokens": length}
        )
    for v in variants:
        model = embedding.get_model(v["model"], max_tokens=v["max_tokens"])
        v["model_id"] = embedding.model_id(v["model"], max_tokens=v["max_tokens"])
        v["tokens"] = model.max_seq_length
        embedding.encode(texts[:32], model_name=v["model"], max_tokens=v["max_tokens"])  # warm
        v["seconds"] = []
    load_before = corpus.load_average()
    for _round in range(rounds):
        for v in variants:
            started = time.perf_counter()
            embedding.encode(
                texts, model_name=v["model"], kind="document", max_tokens=v["max_tokens"]
            )
            v["seconds"].append(time.perf_counter() - started)
    load_after_speed = corpus.load_average()

    with tempfile.TemporaryDirectory(prefix="mm-bench-encode-") as workdir, _memoised_encode():
        dirs = _eval_dirs(limit, Path(workdir))
        for v in variants:
            for name, directory in dirs.items():
                metrics = evaluate(directory, model_name=v["model"], max_tokens=v["max_tokens"])
                v[f"ndcg10_{name}"] = round(metrics["ndcg@10"], 4)

    base = variants[0]
    rows = []
    for v in variants:
        rate = len(texts) / min(v["seconds"])
        v["texts_per_s"] = round(rate, 1)
        v["ratio"] = round(rate / (len(texts) / min(base["seconds"])), 2)
        for name in dirs:
            v[f"delta_{name}"] = round(v[f"ndcg10_{name}"] - base[f"ndcg10_{name}"], 4)
        rows.append(
            {
                k: v[k]
                for k in ("name", "model_id", "tokens", "texts_per_s", "ratio")
                + tuple(f"ndcg10_{d}" for d in dirs)
                + tuple(f"delta_{d}" for d in dirs)
            }
        )
    configured = variants[1]
    qualifies = configured["ratio"] >= RATIO_TARGET and all(
        configured[f"delta_{d}"] >= -NDCG_TOLERANCE for d in dirs
    )
    corpus.print_table(
        f"encode {len(texts)} dev result texts (batch 32, best of {rounds} interleaved rounds); "
        f"fused nDCG@10{' on a SUBSAMPLED pool' if limit else ''}",
        rows,
    )
    line = {
        "bench": "encode",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "texts": len(texts),
        "rounds": rounds,
        "variants": rows,
        "ratio": configured["ratio"],
        "eval_sets": list(dirs),
        "subsampled": bool(limit),
        "target_met": qualifies if dirs and not limit else None,
        "load_before": load_before,
        "load_after_speed": load_after_speed,
        "load_after": corpus.load_average(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(json.dumps(line, ensure_ascii=False), flush=True)
