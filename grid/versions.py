"""Boundary versions: create a draft, activate it (moving linked records), history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from core.errors import Conflict, NotFound
from grid.sql_fragments import assignment_not_ended, cell_in_force


@dataclass(frozen=True)
class Activation:
    """What activating a version changed."""

    version_id: int
    cells_activated: int
    cells_retired: int
    assignments_moved: int
    buildings_relinked: int
    # Records of other packages moved along (e.g. {"incidents": 12}).
    followers_moved: dict[str, int] = field(default_factory=dict)


# Moves another package's records off retired cells: (conn, retired cell ids) -> count.
# Passed in by the caller, because the register knows nothing of what links to cells.
Follower = Callable[[Connection, list[int]], int]


def create_draft_version(conn: Connection, label: str, source: str) -> int:
    """A new, empty draft version; returns its id."""
    return conn.execute(
        text("INSERT INTO boundary_versions (label, source) VALUES (:l, :s) RETURNING id"),
        {"l": label, "s": source},
    ).scalar_one()


def version_summary(conn: Connection, version_id: int) -> dict:
    """A version's id, label, source, status, activation time and number of cells."""
    row = (
        conn.execute(
            text("""
        SELECT v.id, v.label, v.source, v.status, v.activated_at, count(c.id) AS cells
        FROM boundary_versions v LEFT JOIN grid_cells c ON c.version_id = v.id
        WHERE v.id = :v GROUP BY v.id
    """),
            {"v": version_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no boundary version {version_id}", f"未找到边界版本 {version_id}")
    return {**row, "activated_at": row["activated_at"] and row["activated_at"].isoformat()}


def activate_version(
    conn: Connection, version_id: int, followers: Mapping[str, Follower] | None = None
) -> Activation:
    """Put a draft's cells in force, retiring the cells in force in the communities it
    covers. Assignments follow by cell code; buildings move to the cell that now covers
    their point-on-surface; each follower moves its own records. All inside the caller's
    transaction."""
    status = conn.execute(
        text("SELECT status FROM boundary_versions WHERE id = :v FOR UPDATE"), {"v": version_id}
    ).scalar()
    if status is None:
        raise NotFound(f"no boundary version {version_id}", f"未找到边界版本 {version_id}")
    if status != "draft":
        raise Conflict(
            f"version {version_id} is {status}, not a draft", f"边界版本 {version_id} 不是草稿"
        )
    params = {"v": version_id}
    retired = (
        conn.execute(
            text(f"""
        UPDATE grid_cells SET active_to = now()
        WHERE {cell_in_force("")}
          AND community_id IN (SELECT community_id FROM grid_cells WHERE version_id = :v)
        RETURNING id
    """),
            params,
        )
        .scalars()
        .all()
    )
    activated = conn.execute(
        text("UPDATE grid_cells SET active_from = now() WHERE version_id = :v RETURNING id"), params
    ).rowcount
    moved = _carry_assignments_over(conn, version_id, list(retired))
    relinked = conn.execute(
        text("""
        UPDATE buildings b SET cell_id = (
            SELECT p.cell_id FROM grid_cell_parts p
            WHERE ST_Covers(p.part, ST_PointOnSurface(b.footprint))
            ORDER BY p.code LIMIT 1)
        WHERE b.cell_id = ANY(:retired)
           OR (b.cell_id IS NULL AND b.footprint && (
               SELECT ST_SetSRID(ST_Extent(boundary)::geometry, 4326)
               FROM grid_cells WHERE version_id = :v))
    """),
        {"retired": list(retired), "v": version_id},
    ).rowcount
    conn.execute(
        text("""
        UPDATE boundary_versions SET status = 'active', activated_at = now() WHERE id = :v
    """),
        params,
    )
    conn.execute(
        text(f"""
        UPDATE boundary_versions v SET status = 'retired'
        WHERE v.status = 'active' AND v.id <> :v AND NOT EXISTS (
            SELECT 1 FROM grid_cells c WHERE c.version_id = v.id AND {cell_in_force("c")})
    """),
        params,
    )
    followed = {name: move(conn, list(retired)) for name, move in (followers or {}).items()}
    return Activation(version_id, activated, len(retired), moved, relinked, followed)


def _carry_assignments_over(conn: Connection, version_id: int, retired: list[int]) -> int:
    """Workers of a retired cell look after the new cell with the same code from today."""
    if not retired:
        return 0
    moved = conn.execute(
        text(f"""
        INSERT INTO cell_assignments (cell_id, user_id, kind, valid_from, valid_to)
        SELECT new.id, a.user_id, a.kind, greatest(a.valid_from, current_date), a.valid_to
        FROM cell_assignments a
        JOIN grid_cells old ON old.id = a.cell_id
        JOIN grid_cells new ON new.version_id = :v AND new.code = old.code
        WHERE a.cell_id = ANY(:retired)
          AND {assignment_not_ended("a", "current_date")}
    """),
        {"v": version_id, "retired": retired},
    ).rowcount
    # The old cells' assignments end today; ones that had not started yet are dropped.
    conn.execute(
        text("""
        DELETE FROM cell_assignments
        WHERE cell_id = ANY(:retired) AND valid_from >= current_date
    """),
        {"retired": retired},
    )
    conn.execute(
        text(f"""
        UPDATE cell_assignments SET valid_to = current_date
        WHERE cell_id = ANY(:retired) AND {assignment_not_ended("", "current_date")}
    """),
        {"retired": retired},
    )
    return moved
