"""Fit the calibrated match score on an evaluation split and store it for the embedding model."""

import json
import pickle  # noqa: S403 - our own cache of rankings, written by this command
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from matching.matcher import calibration, calibration_fit, calibration_plot, embedding
from matching.matcher.documents import split_sentences
from matching.matcher.evaluation import demand_text, load_split, result_text
from matching.matcher.vector_cache import encode_cached


class Command(BaseCommand):
    help = (
        "Fit P(relevant) of a match (logistic regression over the fused score, raw cosine, rare-term "
        "coverage and lexical z-score) on a split such as shared/eval/dev, cross-validated by need, "
        "with the email threshold; write it to matching/calibration.json under the model id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True)
        parser.add_argument("--model", default=None)
        parser.add_argument(
            "--vectors", default=None, help="cache directory for the split's embeddings"
        )
        parser.add_argument(
            "--rankings", default=None, help="cache file for the split's rankings (pickle)"
        )
        parser.add_argument("--dry-run", action="store_true", help="print the fit, do not write it")
        parser.add_argument(
            "--curve", default=None, help="write the out-of-fold calibration curve here (SVG)"
        )

    def handle(self, *args, data, model, vectors, rankings, dry_run, curve, **options):
        split = load_rankings(
            Path(data), model=model, vectors=vectors, rankings=rankings, log=self._log
        )
        model_id = embedding.model_id(model)
        demands, results, _qrels = load_split(Path(data))
        levels = calibration_fit.fit_evidence_levels(
            split,
            {d["id"]: split_sentences(d.get("description") or "") for d in demands},
            {r["id"]: split_sentences(r.get("abstract") or "") for r in results},
        )
        fitted, cv_metrics, oof = calibration_fit.fit(
            split, model_id=model_id, evidence_levels=levels
        )
        if curve:
            scores, relevant, _targets = calibration_fit.top_pairs(
                split.full, oof["full"], split.qrels
            )
            Path(curve).write_text(
                calibration_plot.reliability_svg(
                    calibration_fit.calibration_curve(scores, relevant),
                    threshold=fitted.alert_threshold,
                    title=f"Calibration on {Path(data).name}, top-10 pairs, out-of-fold",
                    note=f"ECE {cv_metrics['ece']:.3f}; dot area = pairs in the bin ({len(scores)} in all)",
                ),
                encoding="utf-8",
            )
        # For pools too small for a z-score scale: the absolute signals alone, same threshold.
        absolute, absolute_metrics, _oof = calibration_fit.fit(
            split,
            model_id=model_id + calibration.ABSOLUTE_SUFFIX,
            feature_names=calibration.ABSOLUTE_FEATURES,
            threshold=fitted.alert_threshold,
            evidence_levels=levels,
        )
        if not dry_run:
            calibration.save(fitted)
            calibration.save(absolute)
        self.stdout.write(
            json.dumps(
                {
                    "calibration": fitted.to_dict(),
                    **cv_metrics,
                    "absolute": {k: round(v, 4) for k, v in absolute_metrics.items()},
                }
            )
        )

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def load_rankings(
    directory: Path, *, model, vectors, rankings, log
) -> calibration_fit.SplitRankings:
    cache = Path(rankings) if rankings else None
    if cache is not None and cache.is_file():
        with cache.open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - written by this command
    for name in ("demands.jsonl", "results.jsonl", "qrels.jsonl"):
        if not (directory / name).is_file():
            raise CommandError(f"{directory / name} is missing")
    demands, results, qrels = load_split(directory)
    r_texts = [result_text(r.get("title"), r.get("abstract"), r.get("keywords")) for r in results]
    d_texts = [demand_text(d.get("title"), d.get("description")) for d in demands]
    log(f"{len(demands)} demands × {len(results)} results; encoding…")
    cache_dir = Path(vectors) if vectors else None
    r_vecs = encode_cached(r_texts, model_name=model, kind="document", cache_dir=cache_dir)
    q_vecs = encode_cached(d_texts, model_name=model, kind="query", cache_dir=cache_dir)
    log("ranking…")
    split = calibration_fit.rank_split(
        demands,
        results,
        qrels,
        d_texts,
        r_texts,
        q_vecs,
        r_vecs,
        depth=calibration_fit.TRAIN_DEPTH,
        log=log,
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("wb") as fh:
            pickle.dump(split, fh)
    return split
