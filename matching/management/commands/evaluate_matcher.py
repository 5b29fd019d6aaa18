"""Rank every result for every demand of an evaluation split with the service's ranking code."""

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from matching.matcher import active, calibration, calibration_fit, embedding
from matching.matcher.evaluation import compute_metrics, demand_text, load_split, result_text
from matching.matcher.vector_cache import encode_cached


def _require_migrated() -> None:
    """The ranking reads the model's active configuration from the database: say how to get one."""
    from matching.matcher.models import RankingConfiguration

    try:
        tables = connection.introspection.table_names()
    except DatabaseError as exc:
        raise CommandError(
            f"the database is not reachable ({exc}); see README, Quick start"
        ) from exc
    if RankingConfiguration._meta.db_table not in tables:
        raise CommandError(
            "the database has no matcher tables yet: run `manage.py migrate` first "
            "(the ranking reads the active ranking configuration from it)"
        )


class Command(BaseCommand):
    help = (
        "Evaluate the matcher on a split in the format of shared/eval/dev (demands.jsonl, results.jsonl, "
        "qrels.jsonl). Prints progress, then as its last line one JSON object with the metrics: the "
        "ranking's (ndcg@10, …) and the calibrated score's (alert_recall, orphan_alert_rate, ece at the "
        "default email threshold)."
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
        parser.add_argument(
            "--vectors",
            default=None,
            help="cache directory for the split's embeddings (reused when model and texts are unchanged)",
        )

    def handle(
        self, *args, data: str, model: str | None, batch_size: int, vectors: str | None, **options
    ):
        directory = Path(data)
        for name in ("demands.jsonl", "results.jsonl", "qrels.jsonl"):
            if not (directory / name).is_file():
                raise CommandError(f"{directory / name} is missing")
        _require_migrated()
        started = time.perf_counter()
        demands, results, qrels = load_split(directory)
        result_texts = [
            result_text(r.get("title"), r.get("abstract"), r.get("keywords")) for r in results
        ]
        demand_texts = [demand_text(d.get("title"), d.get("description")) for d in demands]
        self._log(f"{len(demands)} demands × {len(results)} results; encoding…")
        cache_dir = Path(vectors) if vectors else None
        r_vecs = encode_cached(
            result_texts,
            model_name=model,
            kind="document",
            batch_size=batch_size,
            cache_dir=cache_dir,
        )
        q_vecs = encode_cached(
            demand_texts, model_name=model, kind="query", batch_size=batch_size, cache_dir=cache_dir
        )
        encoded = time.perf_counter()
        self._log(f"encoded in {encoded - started:.1f} s; ranking…")

        model_id = embedding.model_id(model)
        split = calibration_fit.rank_split(
            demands,
            results,
            qrels,
            demand_texts,
            result_texts,
            q_vecs,
            r_vecs,
            depth=100,
            model_id=model_id,
            # The weights in force: the active tuned configuration, else the shipped ones.
            config=active.ranking_config(model_id),
            log=self._log,
        )
        metrics = compute_metrics({d: r.ids for d, r in split.full.items()}, qrels)
        # The calibrated score at the default email threshold; the orphan pool is the same pool with
        # every labelled-relevant result removed (matching.matcher.calibration_fit).
        full_scores = {d: r.scores(model_id) for d, r in split.full.items()}
        orphan_scores = {d: r.scores(model_id) for d, r in split.orphan.items()}
        metrics.update(
            calibration_fit.calibration_metrics(
                split, full_scores, orphan_scores, calibration.alert_threshold(model_id)
            )
        )
        summary = {
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
            "calibrated": calibration.for_model(model_id) is not None,
            "n_results": len(results),
            "model": model_id,
            "seconds": round(time.perf_counter() - started, 1),
            "encode_seconds": round(encoded - started, 1),
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False))

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)
