"""``evaluate_matcher`` wall time at the size the issue names: 500 demands × 5,000 results.

The split is grown from the real dev split (``bench/corpus.py``) and written in its format to a
temporary directory:

- results: the 1,713 real results plus synthetic variants up to ``BENCH_EVAL_RESULTS`` (5,000);
- demands: the 229 real demands with their real qrels, plus demands made from the first one or
  two sentences of other real results' abstracts (the result they come from is their one
  relevant result), up to ``BENCH_EVAL_DEMANDS`` (500).

Then ``manage.py evaluate_matcher --data DIR`` runs as a subprocess, exactly as a user runs it
(model load, encoding every text, ranking every result for every demand), and the wall time is
measured around it. The metrics it prints on this grown split are reported but are not quality
figures: the variants share titles with their real parents. Quality is measured on the dev split
itself (``docs/matching.md``). The run is appended to ``var/bench/evaluate.jsonl``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "var" / "bench" / "evaluate.jsonl"
TARGET_S = 10 * 60


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def grow_split(directory: Path, n_demands: int, n_results: int, *, seed: int = 5) -> dict:
    """Write demands.jsonl, results.jsonl and qrels.jsonl of the grown split into ``directory``."""
    real_results = corpus._jsonl(corpus.DEV_DIR / "results.jsonl")
    real_demands = corpus._jsonl(corpus.DEV_DIR / "demands.jsonl")
    real_qrels = corpus._jsonl(corpus.DEV_DIR / "qrels.jsonl")
    specs, _parents = corpus.synth_results(corpus.dev_results(), n_results)
    results = [dict(r) for r in real_results[:n_results]]
    for i, spec in enumerate(specs[len(results) :]):
        results.append(
            {
                "id": f"r-synth-{i:05d}",
                "title": spec.title,
                "abstract": spec.abstract,
                "keywords": list(spec.keywords),
                "field": spec.discipline,
            }
        )
    demands = [dict(d) for d in real_demands[:n_demands]]
    kept = {d["id"] for d in demands}
    qrels = [q for q in real_qrels if q["demand_id"] in kept]
    answered = {q["result_id"] for q in real_qrels}
    rng = random.Random(seed)
    sources = [r for r in real_results if r["id"] not in answered]
    rng.shuffle(sources)
    for i, source in enumerate(sources[: max(0, n_demands - len(demands))]):
        sentences = corpus._sentences(source["abstract"]) or [source["title"]]
        demand_id = f"d-synth-{i:04d}"
        demands.append(
            {
                "id": demand_id,
                "title": sentences[0][:60],
                "description": "".join(sentences[: rng.randint(1, 2)]),
                "field": source.get("field") or "工学",
            }
        )
        qrels.append({"demand_id": demand_id, "result_id": source["id"], "relevance": 2})
    _write_jsonl(directory / "results.jsonl", results)
    _write_jsonl(directory / "demands.jsonl", demands)
    _write_jsonl(directory / "qrels.jsonl", qrels)
    return {"demands": len(demands), "results": len(results), "qrels": len(qrels)}


def main() -> None:
    n_demands = int(os.environ.get("BENCH_EVAL_DEMANDS", "500"))
    n_results = int(os.environ.get("BENCH_EVAL_RESULTS", "5000"))
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        sizes = grow_split(Path(tmp), n_demands, n_results)
        load_before = corpus.load_average()
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "manage.py", "evaluate_matcher", "--data", tmp],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n")
        raise SystemExit(f"evaluate_matcher exited with {proc.returncode}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    figures = {
        "bench": "evaluate.wall_time",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        **sizes,
        "wall_s": round(wall, 1),
        "reported_seconds": report.get("seconds"),
        "target_s": TARGET_S,
        "target_met": wall <= TARGET_S,
        "load_before": load_before,
        "load_after": corpus.load_average(),
        "metrics_on_grown_split": {k: report.get(k) for k in ("ndcg@10", "recall@10", "mrr@10")},
        "model": report.get("model"),
    }
    corpus.print_table(
        "evaluate_matcher on a grown split (wall time around the subprocess)",
        [{k: figures[k] for k in ("demands", "results", "wall_s", "target_met", "load_before")}],
    )
    line = json.dumps(figures, ensure_ascii=False)
    print(line, flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
