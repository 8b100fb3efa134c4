"""Grid checks: overlaps and gaps between cells of a community, cells outside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

# Below this, differences are digitising or reprojection noise (a straight edge in one
# CRS bends slightly in another: ~2 m² along a 500 m edge was seen in tests).
MIN_PROBLEM_AREA_M2 = 10.0


@dataclass(frozen=True)
class GridProblem:
    """One problem, with where it is and how large."""

    kind: str  # 'overlap' | 'gap' | 'outside_community'
    community_code: str
    cell_codes: list[str]
    area_m2: float
    geometry: dict[str, Any]


@lru_cache
def _statement():
    return text((Path(__file__).parent / "sql" / "grid_checks.sql").read_text())


def check_version(
    conn: Connection, version_id: int, min_area_m2: float = MIN_PROBLEM_AREA_M2
) -> list[GridProblem]:
    """Every overlap, gap and out-of-community piece among a version's cells."""
    rows = conn.execute(_statement(), {"version_id": version_id, "min_area_m2": min_area_m2})
    return [
        GridProblem(kind, community, list(codes), round(area, 1), json.loads(geometry))
        for kind, community, codes, area, geometry in rows
    ]
