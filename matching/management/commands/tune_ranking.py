"""Refit the fusion weights and the calibration from the dev split plus users' feedback, compare with the
configuration in force, and activate the refit only when it is not worse (``matching.matcher.tuning``)."""

import json
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from matching.matcher import active, calibration, embedding, tuning
from matching.matcher.evaluation import demand_text, load_split, result_text
from matching.matcher.ranking import RankingConfig
from matching.matcher.vector_cache import encode_cached
from matching.matches.selectors import feedback_training_rows


class Command(BaseCommand):
    help = (
        "Refit the ranking's fusion weights and calibration on an evaluation split (default: "
        "MATCHER_TUNE_DATA, shared/eval/dev) plus the feedback given on matches (感兴趣 = relevant, "
        "不相关 = not), evaluate the current and the refitted configuration on the split in the same "
        "run, print the comparison, and activate the refit only when nDCG@10 is not lower and the "
        "calibration targets still hold. The decision is written to the audit log. The last line is "
        "one JSON object."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--data", default=None, help="evaluation split directory (default: MATCHER_TUNE_DATA)"
        )
        parser.add_argument(
            "--model", default=None, help="embedding model (default: MATCHER_MODEL)"
        )
        parser.add_argument(
            "--vectors", default=None, help="cache directory for the split's embeddings"
        )
        parser.add_argument(
            "--weights",
            default=None,
            help=(
                'evaluate these weights as the candidate instead of searching, e.g. \'{"dense": 0.5, '
                '"structured": {"field": 0.3}}\' (the same gate applies)'
            ),
        )
        parser.add_argument(
            "--keep-calibration",
            action="store_true",
            help="score the candidate with the calibration in force instead of refitting it",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="compare and print; store and activate nothing"
        )

    def handle(self, *args, data, model, vectors, weights, keep_calibration, dry_run, **options):
        started = time.perf_counter()
        directory = Path(data or settings.MATCHER_TUNE_DATA)
        for name in ("demands.jsonl", "results.jsonl", "qrels.jsonl"):
            if not (directory / name).is_file():
                raise CommandError(f"{directory / name} is missing")
        forced = None
        if weights:
            try:
                forced = RankingConfig.from_dict(json.loads(weights))
            except (ValueError, TypeError, AttributeError) as exc:
                raise CommandError(f"--weights: {exc}") from exc
        split = self._load(directory, model, vectors)
        model_id = embedding.model_id(model)
        active.clear_cache()
        current_config = active.ranking_config(model_id)
        current_scorer = calibration.for_model(model_id)
        rows = feedback_training_rows(model_id=model_id)
        feedback = tuning.Feedback.from_rows(rows) if rows else None
        self._log(
            f"feedback: {len(rows)} rows ({sum(1 for _c, label in rows if label)} 感兴趣); "
            "ranking the split's candidates…"
        )

        signals = split.rank(depth=None)
        keys, table = tuning.table_from_rankings(signals.full)
        if forced is not None:
            candidate_config, search = forced, {"forced": True}
        else:
            candidate_config, search = tuning.search_weights(
                keys, table, split.qrels, feedback, current_config
            )
        self._log(f"candidate weights: {candidate_config.to_dict()}; refitting the calibration…")
        main, absolute, cv = tuning.refit_calibration(
            signals,
            candidate_config,
            feedback,
            model_id=model_id,
            evidence_levels=current_scorer.evidence_levels if current_scorer else None,
        )
        if keep_calibration and current_scorer is not None:
            main = current_scorer
            absolute = calibration.for_model(model_id + calibration.ABSOLUTE_SUFFIX) or main
        self._log("evaluating the current configuration…")
        current = tuning.evaluate(split, current_config, current_scorer, model_id=model_id)
        self._log("evaluating the candidate…")
        candidate = tuning.evaluate(split, candidate_config, main, model_id=model_id)
        accepted, refusals = tuning.decide(current, candidate)

        self.stdout.write(f"weights  current:   {json.dumps(current_config.to_dict())}")
        self.stdout.write(f"weights  candidate: {json.dumps(candidate_config.to_dict())}")
        self.stdout.write(tuning.comparison_table(current, candidate))
        verdict = "activated" if accepted else "rejected: " + "; ".join(refusals)
        if dry_run:
            verdict = f"would be {verdict} (dry run)"
        self.stdout.write(f"decision: {verdict}")

        evaluation = {
            "data": directory.name,
            "current": _rounded(current),
            "candidate": _rounded(candidate),
            "search": _rounded(search),
            "calibration_cv": _rounded(cv),
            "feedback_rows": len(rows),
            "feedback_interested": sum(1 for _c, label in rows if label),
            "refusals": refusals,
        }
        row = None
        if not dry_run:
            row = active.record_decision(
                model_id=model_id,
                weights=candidate_config.to_dict(),
                calibration={"main": main.to_dict(), "absolute": absolute.to_dict()},
                evaluation=evaluation,
                activate=accepted,
                reason=verdict,
            )
        self.stdout.write(
            json.dumps(
                {
                    "activated": accepted and not dry_run,
                    "accepted": accepted,
                    "configuration": row.pk if row else None,
                    "model": model_id,
                    "weights": candidate_config.to_dict(),
                    "seconds": round(time.perf_counter() - started, 1),
                    **evaluation,
                },
                ensure_ascii=False,
            )
        )

    def _load(self, directory: Path, model, vectors) -> tuning.SplitData:
        demands, results, qrels = load_split(directory)
        r_texts = [
            result_text(r.get("title"), r.get("abstract"), r.get("keywords")) for r in results
        ]
        d_texts = [demand_text(d.get("title"), d.get("description")) for d in demands]
        self._log(f"{len(demands)} demands × {len(results)} results; encoding…")
        cache_dir = Path(vectors) if vectors else None
        r_vecs = encode_cached(r_texts, model_name=model, kind="document", cache_dir=cache_dir)
        q_vecs = encode_cached(d_texts, model_name=model, kind="query", cache_dir=cache_dir)
        return tuning.SplitData(demands, results, qrels, d_texts, r_texts, q_vecs, r_vecs)

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def _rounded(values: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
