"""The small test city written over a sync connection (for bulk code under test)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from tests.factories import metres_box

REGIONS = [
    ("880100", "测试市", "city", None, (0, 0, 1500, 500)),
    ("880101", "测试区", "district", "880100", (0, 0, 1500, 500)),
    ("880101001", "测试街道", "street", "880101", (0, 0, 1500, 500)),
    ("880101001001", "甲社区", "community", "880101001", (0, 0, 1000, 500)),
    ("880101001002", "乙社区", "community", "880101001", (1000, 0, 1500, 500)),
]
CELLS = [
    ("880101001001001", "880101001001", (0, 0, 500, 500)),
    ("880101001001002", "880101001001", (500, 0, 1000, 500)),
    ("880101001002001", "880101001002", (1000, 0, 1500, 500)),
]


def make_sync_world(conn: Connection) -> int:
    """Insert the regions and an active version with three cells; returns the version id."""
    for code, name, level, parent, extent in REGIONS:
        conn.execute(
            text("""
            INSERT INTO regions (code, name, level, parent_id, path, boundary)
            VALUES (:code, :name, :level, (SELECT id FROM regions WHERE code = :parent), '',
                    ST_GeomFromText(:wkt, 4326))
        """),
            {
                "code": code,
                "name": name,
                "level": level,
                "parent": parent,
                "wkt": metres_box(*extent).wkt,
            },
        )
        conn.execute(
            text("""
            UPDATE regions r SET path = coalesce(p.path, '/') || r.id || '/'
            FROM regions r2 LEFT JOIN regions p ON p.id = r2.parent_id
            WHERE r.id = r2.id AND r.code = :code
        """),
            {"code": code},
        )
    version_id = conn.execute(
        text(
            "INSERT INTO boundary_versions (label, source, status, activated_at) "
            "VALUES ('test', 'test', 'active', now()) RETURNING id"
        )
    ).scalar_one()
    for code, community, extent in CELLS:
        conn.execute(
            text("""
            INSERT INTO grid_cells (version_id, code, name, community_id, boundary, active_from)
            VALUES (:v, :code, :code, (SELECT id FROM regions WHERE code = :community),
                    ST_GeomFromText(:wkt, 4326), now())
        """),
            {"v": version_id, "code": code, "community": community, "wkt": metres_box(*extent).wkt},
        )
    return version_id
