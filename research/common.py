"""Shared helpers for the research scripts (not used by the service)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEV = Path("../shared/eval/dev")
PARA = Path(__file__).resolve().parent / "paraphrase_dev"
CACHE = Path(os.environ.get("MATCHER_CACHE", "var/cache/matcher"))


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def demand_text(d: dict) -> str:
    title, desc = d.get("title", "").strip(), d.get("description", "").strip()
    return desc if title and title in desc else f"{title}。{desc}".strip("。")


RESULT_VARIANTS = {
    "title": lambda r: r["title"],
    "abstract": lambda r: r["abstract"],
    "title_kw": lambda r: f"{r['title']}。{'；'.join(r.get('keywords', []))}",
    "full": lambda r: f"{r['title']}。{r['abstract']} {'；'.join(r.get('keywords', []))}",
}
