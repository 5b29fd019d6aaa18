"""Scale check: the full evaluation pipeline on 500 demands x 5,000 results (2 cores).

The dev texts are cycled (with fresh ids) to reach the target sizes; qrels are those of the
original demands, so the metrics are meaningless here: only the timings matter.
Usage: python -m research.bench_scale [N_DEMANDS] [N_RESULTS]
"""

from __future__ import annotations

import sys
import time

from matching.matcher.evaluation import rank_split, score_split
from research.common import DEV, load_jsonl


def cycle(rows: list[dict], n: int, prefix: str) -> list[dict]:
    return [{**rows[i % len(rows)], "id": f"{prefix}{i}"} for i in range(n)]


def main() -> None:
    n_d = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    n_r = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    demands = cycle(load_jsonl(DEV / "demands.jsonl"), n_d, "d")
    results = cycle(load_jsonl(DEV / "results.jsonl"), n_r, "r")
    wall, cpu = time.perf_counter(), time.process_time()
    scores = score_split(demands, results)
    t_score = time.perf_counter() - wall
    rank_split(scores)
    print(
        f"{n_d} x {n_r}: score {t_score:.1f}s, total wall {time.perf_counter() - wall:.1f}s, "
        f"process CPU {time.process_time() - cpu:.1f}s"
    )


if __name__ == "__main__":
    main()
