"""Reading the hand-written demo data in ``fixtures/demo`` (see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

DEMO_DIR = settings.BASE_DIR / "fixtures" / "demo"


def read_parts(kind: str, directory: Path = DEMO_DIR) -> list[dict]:
    """All records of one kind (``needs`` reads needs_part1.json, needs_part2.json, …) in part order."""
    records: list[dict] = []
    for path in sorted(directory.glob(f"{kind}_part*.json")):
        records.extend(json.loads(path.read_text(encoding="utf-8")))
    return records
