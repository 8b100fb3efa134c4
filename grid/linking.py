"""Linking records to grid cells in bulk: an in-memory STRtree over the cells in force."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import Connection, text

from grid.sql_fragments import cell_in_force


@dataclass(frozen=True)
class CellIndex:
    """The cells in force with their ids and codes, indexed for point queries."""

    ids: np.ndarray
    codes: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def load(cls, conn: Connection) -> CellIndex:
        """Read every cell in force in one query (boundaries parsed in one vectorised call)."""
        rows = conn.execute(
            text(
                "SELECT id, code, ST_AsBinary(boundary) FROM grid_cells "
                f"WHERE {cell_in_force('')} ORDER BY code"
            )
        ).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        codes = np.array([r[1] for r in rows], dtype=object)
        boundaries = shapely.from_wkb([bytes(r[2]) for r in rows])
        return cls(ids, codes, shapely.STRtree(boundaries))

    def cell_ids_for_points(self, points: np.ndarray) -> np.ndarray:
        """Cell id covering each point (-1 where none). A point on a shared edge takes the
        cell with the smallest code, matching the SQL lookup's rule."""
        result = np.full(len(points), -1, dtype=np.int64)
        if len(self.ids) == 0 or len(points) == 0:
            return result
        # 'intersects' keeps points on an edge or vertex (covered_by semantics for points).
        point_idx, cell_idx = self.tree.query(points, predicate="intersects")
        if len(point_idx) == 0:
            return result
        # Cells are ordered by code, so the smallest tree index is the smallest code.
        order = np.lexsort((cell_idx, point_idx))
        point_idx, cell_idx = point_idx[order], cell_idx[order]
        first = np.r_[True, point_idx[1:] != point_idx[:-1]]
        result[point_idx[first]] = self.ids[cell_idx[first]]
        return result


def footprint_anchor_points(footprints: np.ndarray) -> np.ndarray:
    """The point that places a building in a cell: its footprint's point-on-surface."""
    return shapely.point_on_surface(footprints)
