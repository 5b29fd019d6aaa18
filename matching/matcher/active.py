"""The ranking configuration in force for an embedding model, read at run time.

``manage.py tune_ranking`` (``matching.matcher.tuning``) may activate a refitted configuration — fusion
weights and calibration — as a ``RankingConfiguration`` row of the model. Every process reads the
active row through this module (cached for ``CACHE_SECONDS``, so a page that shows many matches reads
it at most once); without one, the shipped ``ranking.DEFAULT_CONFIG`` and ``matching/calibration.json``
apply. Activation and its audit row are written here too, in one transaction.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.services import audit_record
from matching.matcher import ranking
from matching.matcher.calibration import ABSOLUTE_SUFFIX, Calibration
from matching.matcher.models import RankingConfiguration

# Other processes (web, workers) see a newly activated configuration within this many seconds.
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Active:
    """The active tuned configuration of one model (``pk`` None: nothing tuned, shipped values)."""

    pk: int | None
    config: ranking.RankingConfig
    calibration: Calibration | None
    absolute: Calibration | None


SHIPPED = Active(pk=None, config=ranking.DEFAULT_CONFIG, calibration=None, absolute=None)

_cache: dict[str, tuple[float, Active]] = {}
_lock = threading.Lock()


def from_row(row: RankingConfiguration) -> Active:
    data = row.calibration or {}
    return Active(
        pk=row.pk,
        config=ranking.RankingConfig.from_dict(row.weights),
        calibration=Calibration.from_dict(data["main"]) if data.get("main") else None,
        absolute=Calibration.from_dict(data["absolute"]) if data.get("absolute") else None,
    )


def for_model(model_id: str) -> Active:
    """The active configuration of ``model_id`` (the shipped one when none was activated)."""
    now = time.monotonic()
    cached = _cache.get(model_id)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    row = RankingConfiguration.objects.filter(
        model_id=model_id, status=RankingConfiguration.Status.ACTIVE
    ).first()
    active = from_row(row) if row is not None else SHIPPED
    with _lock:
        _cache[model_id] = (now, active)
    return active


def ranking_config(model_id: str) -> ranking.RankingConfig:
    return for_model(model_id).config


def tuned_calibration(model_id: str) -> Calibration | None:
    """The calibration of the active tuned configuration (``…#absolute``: its absolute-signals fit),
    or None (the shipped fit applies)."""
    if model_id.endswith(ABSOLUTE_SUFFIX):
        return for_model(model_id.removesuffix(ABSOLUTE_SUFFIX)).absolute
    return for_model(model_id).calibration


def clear_cache() -> None:
    with _lock:
        _cache.clear()


@transaction.atomic
def record_decision(
    *,
    model_id: str,
    weights: dict,
    calibration: dict,
    evaluation: dict,
    activate: bool,
    reason: str,
    actor=None,
) -> RankingConfiguration:
    """Store a candidate configuration of ``model_id``: active (retiring the one it replaces) or
    rejected; either way the decision and the compared figures go to the audit log."""
    previous = (
        RankingConfiguration.objects.select_for_update()
        .filter(model_id=model_id, status=RankingConfiguration.Status.ACTIVE)
        .first()
    )
    if activate and previous is not None:
        previous.status = RankingConfiguration.Status.RETIRED
        previous.save(update_fields=["status"])
    row = RankingConfiguration.objects.create(
        model_id=model_id,
        status=RankingConfiguration.Status.ACTIVE
        if activate
        else RankingConfiguration.Status.REJECTED,
        weights=weights,
        calibration=calibration,
        evaluation=evaluation,
        activated_at=timezone.now() if activate else None,
    )
    audit_record(
        actor=actor,
        action="ranking.activate" if activate else "ranking.reject",
        target=row,
        from_state=f"#{previous.pk}" if previous is not None else "shipped",
        to_state=row.status,
        reason=reason,
        data={"model_id": model_id, "weights": weights, **evaluation},
    )
    # This process reads the new state at once (inside this transaction too); others within
    # CACHE_SECONDS.
    clear_cache()
    transaction.on_commit(clear_cache)
    return row
