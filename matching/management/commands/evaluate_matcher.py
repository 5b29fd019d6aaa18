"""Rank every result for every demand of an evaluation split with the service's ranking code."""

import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from matching.matcher import embedding, ranking
from matching.matcher.evaluation import compute_metrics, demand_text, load_split, result_text
from matching.matcher.offline import OfflinePool


class Command(BaseCommand):
    help = (
        "Evaluate the matcher on a split in the format of shared/eval/dev (demands.jsonl, results.jsonl, "
        "qrels.jsonl). Prints progress, then as its last line one JSON object with the metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--data", required=True, help="directory with demands/results/qrels .jsonl"
        )
        parser.add_argument(
            "--model",
            default=None,
            help="embedding model name or directory (default: MATCHER_MODEL)",
        )
        parser.add_argument("--batch-size", type=int, default=32)

    def handle(self, *args, data: str, model: str | None, batch_size: int, **options):
        directory = Path(data)
        for name in ("demands.jsonl", "results.jsonl", "qrels.jsonl"):
            if not (directory / name).is_file():
                raise CommandError(f"{directory / name} is missing")
        started = time.perf_counter()
        demands, results, qrels = load_split(directory)
        result_texts = [
            result_text(r.get("title"), r.get("abstract"), r.get("keywords")) for r in results
        ]
        demand_texts = [demand_text(d.get("title"), d.get("description")) for d in demands]
        self._log(f"{len(demands)} demands × {len(results)} results; encoding…")
        r_vecs = embedding.encode(
            result_texts, model_name=model, kind="document", batch_size=batch_size
        )
        q_vecs = embedding.encode(
            demand_texts, model_name=model, kind="query", batch_size=batch_size
        )
        encoded = time.perf_counter()
        self._log(f"encoded in {encoded - started:.1f} s; ranking…")

        pool = OfflinePool([r["id"] for r in results], result_texts, r_vecs)
        result_fields = [r.get("field") for r in results]

        def field_fits(field: str | None, candidates: list[int]) -> dict[str, np.ndarray]:
            return {
                "field": np.asarray(
                    [ranking.field_fit(field, result_fields[c]) for c in candidates]
                )
            }

        rankings = {
            demand["id"]: pool.rank(
                demand_texts[i], q_vecs[i], structured=partial(field_fits, demand.get("field"))
            )
            for i, demand in enumerate(demands)
        }
        metrics = compute_metrics(rankings, qrels)
        summary = {
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
            "n_results": len(results),
            "model": embedding.model_id(model),
            "seconds": round(time.perf_counter() - started, 1),
            "encode_seconds": round(encoded - started, 1),
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False))

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)
