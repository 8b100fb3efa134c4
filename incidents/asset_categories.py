"""Which report categories concern which kinds of city asset (部件): the one table the
report page's asset picker, GET /assets/nearby?category= and intake's `asset_code` check
read. A category absent here concerns no asset."""

from __future__ import annotations

from grid.assets import ASSET_KINDS

CATEGORY_ASSET_KINDS: dict[str, tuple[str, ...]] = {
    "fire.equipment": ("fire_hydrant", "extinguisher_cabinet"),
    "fire.ebike_indoor": ("ebike_charger",),
    "community.manhole": ("manhole_cover",),
    "community.streetlight": ("street_light",),
}

assert all(k in ASSET_KINDS for kinds in CATEGORY_ASSET_KINDS.values() for k in kinds)


def asset_kinds_for(category: str) -> tuple[str, ...]:
    """The asset kinds a category concerns (empty when none)."""
    return CATEGORY_ASSET_KINDS.get(category, ())


def categories_for(kind: str) -> list[str]:
    """The categories that concern an asset kind."""
    return [c for c, kinds in CATEGORY_ASSET_KINDS.items() if kind in kinds]
