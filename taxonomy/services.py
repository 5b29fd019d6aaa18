from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from taxonomy.models import Field, Region, RegionGroup


@transaction.atomic
def taxonomy_load(*, path: Path) -> dict[str, int]:
    """Create or update fields and regions from ``fixtures/demo/taxonomy.json``; idempotent."""
    data = json.loads(path.read_text(encoding="utf-8"))
    n_fields = 0
    for position, top in enumerate(data["fields"]):
        parent, _ = Field.objects.update_or_create(
            code=top["code"], defaults={"name": top["name"], "parent": None, "position": position}
        )
        n_fields += 1
        for sub_position, child in enumerate(top.get("children", [])):
            Field.objects.update_or_create(
                code=child["code"],
                defaults={"name": child["name"], "parent": parent, "position": sub_position},
            )
            n_fields += 1
    regions = {}
    for position, entry in enumerate(data["regions"]):
        regions[entry["name"]], _ = Region.objects.update_or_create(
            name=entry["name"], defaults={"position": position}
        )
    for position, entry in enumerate(data.get("region_groups", [])):
        group, _ = RegionGroup.objects.update_or_create(
            name=entry["name"], defaults={"position": position}
        )
        group.regions.set([regions[name] for name in entry["members"]])
    return {"fields": n_fields, "regions": len(regions)}
