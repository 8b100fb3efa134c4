"""When a boundary version is activated, open incidents move to the cells that now cover
them, so their new cell's workers see them and escalation finds the right backups."""

from __future__ import annotations

from sqlalchemy import Connection, text

from incidents.status import TERMINAL
from incidents.versioning import next_version


def move_open_incidents(conn: Connection, retired_cell_ids: list[int]) -> int:
    """Re-point incidents not yet finished on the retired cells (a follower for
    `grid.versions.activate_version`); returns how many moved. Their assignee stays."""
    if not retired_cell_ids:
        return 0
    return conn.execute(
        text(f"""
        UPDATE incidents i SET
            cell_id = (SELECT p.cell_id FROM grid_cell_parts p
                       WHERE ST_Covers(p.part, i.location) ORDER BY p.code LIMIT 1),
            {next_version()}, updated_at = now()
        WHERE i.cell_id = ANY(:retired) AND i.status <> ALL(:finished)
    """),
        {"retired": retired_cell_ids, "finished": sorted(TERMINAL)},
    ).rowcount


ACTIVATION_FOLLOWERS = {"incidents": move_open_incidents}
