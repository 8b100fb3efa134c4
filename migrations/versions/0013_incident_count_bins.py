"""Pre-aggregated incident counts for low-zoom tiles, and partial indexes for the others

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# incident_tile_bins counts the incidents shown on the public map by the web-mercator
# tile holding their public point at zooms 16, 17 and 18 (squares of ~611, ~306 and
# ~153 m), their status and the China day they were closed ('infinity' while open). A
# count tile of zoom z draws one cluster per tile of zoom z + 4 (a sixteenth of its side),
# so it sums the bins of zoom z + 4 (zooms 12-14; lower zooms fold zoom-16 bins) instead
# of grouping every incident: it reads at most 256 bins per status and day. The closing
# day is a key because a closed incident leaves the map RECENTLY_CLOSED_DAYS after that
# day: the reader picks the days still shown, so the counts stay right as days pass with
# no refresh job. Rejected and duplicate reports are never shown, so never counted.
#
# Statement-level AFTER triggers with transition tables keep the bins in the same
# transaction as the change: one aggregated upsert per statement (a COPY of a million
# rows is one upsert, not a million), written in key order so two statements never lock
# the same bins in opposite orders. A bin that drops to zero is deleted.
FINEST_BIN_ZOOM = 18
BIN_LEVELS = 3  # zooms 16, 17 and 18

# Morton (Z-order) code of a tile at one zoom: x in the even bits, y in the odd ones, so
# the bins inside any coarser tile have consecutive codes (one B-tree range).
_MORTON = """
CREATE FUNCTION tile_morton(x integer, y integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    a bigint := x;
    b bigint := y;
BEGIN
    -- Spread the bits of each 24-bit value apart with the masks 0x0000FFFF0000FFFF,
    -- 0x00FF00FF00FF00FF, 0x0F0F0F0F0F0F0F0F, 0x3333333333333333, 0x5555555555555555.
    a := (a | (a << 16)) & 281470681808895;
    b := (b | (b << 16)) & 281470681808895;
    a := (a | (a << 8)) & 71777214294589695;
    b := (b | (b << 8)) & 71777214294589695;
    a := (a | (a << 4)) & 1085102592571150095;
    b := (b | (b << 4)) & 1085102592571150095;
    a := (a | (a << 2)) & 3689348814741910323;
    b := (b | (b << 2)) & 3689348814741910323;
    a := (a | (a << 1)) & 6148914691236517205;
    b := (b | (b << 1)) & 6148914691236517205;
    RETURN a | (b << 1);
END
$$
"""

_KEYS = f"""
CREATE FUNCTION incident_tile_bin_keys(point geometry, status text, closed_at timestamptz)
RETURNS TABLE (zoom smallint, closed_on date, quadkey bigint, x integer, y integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- The finest tile once; the coarser ones are its bits shifted out.
    SELECT ({FINEST_BIN_ZOOM} - up.k)::smallint,
           coalesce((closed_at AT TIME ZONE 'Asia/Shanghai')::date, 'infinity'::date),
           f.code >> (2 * up.k), f.x >> up.k, f.y >> up.k
    FROM (SELECT c.x, c.y, tile_morton(c.x, c.y) AS code
          FROM (SELECT least(greatest(floor((ST_X(point) + 20037508.342789244)
                                            / {40075016.685578488 / 2**FINEST_BIN_ZOOM!r}
                                            )::integer, 0), {2**FINEST_BIN_ZOOM - 1}) AS x,
                       least(greatest(floor((20037508.342789244 - ST_Y(point))
                                            / {40075016.685578488 / 2**FINEST_BIN_ZOOM!r}
                                            )::integer, 0), {2**FINEST_BIN_ZOOM - 1}) AS y
               ) c) f,
         generate_series(0, {BIN_LEVELS - 1}) AS up(k)
    WHERE point IS NOT NULL AND status NOT IN ('rejected', 'duplicate')
$$
"""

# {changes}: (point, status, closed_at, delta) rows from the statement's transition tables.
_APPLY = """
CREATE FUNCTION incident_tile_bins_{op}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied record;
BEGIN
    WITH changes (point, status, closed_at, delta) AS ({changes}),
    upserted AS (
        INSERT INTO incident_tile_bins AS b (zoom, closed_on, quadkey, status, x, y, incidents)
        SELECT k.zoom, k.closed_on, k.quadkey, c.status, k.x, k.y, sum(c.delta)::integer
        FROM changes c CROSS JOIN LATERAL incident_tile_bin_keys(c.point, c.status,
                                                                 c.closed_at) k
        GROUP BY k.zoom, k.closed_on, k.quadkey, c.status, k.x, k.y
        HAVING sum(c.delta) <> 0
        ORDER BY k.zoom, k.closed_on, k.quadkey, c.status
        ON CONFLICT (zoom, closed_on, quadkey, status)
        DO UPDATE SET incidents = b.incidents + EXCLUDED.incidents
        RETURNING b.zoom, b.closed_on, b.quadkey, b.status, b.incidents
    )
    SELECT array_agg(zoom) AS zooms, array_agg(closed_on) AS days,
           array_agg(quadkey) AS codes, array_agg(status) AS statuses
    INTO emptied FROM upserted WHERE incidents = 0;
    -- Only the bins this statement emptied (it holds their locks): no wait, no deadlock.
    IF emptied.zooms IS NOT NULL THEN
        DELETE FROM incident_tile_bins b
        USING unnest(emptied.zooms, emptied.days, emptied.codes, emptied.statuses)
              AS e(zoom, closed_on, quadkey, status)
        WHERE b.zoom = e.zoom AND b.closed_on = e.closed_on AND b.quadkey = e.quadkey
          AND b.status = e.status AND b.incidents = 0;
    END IF;
    RETURN NULL;
END
$$
"""

_CHANGES = {
    "insert": "SELECT public_point_3857, status::text, closed_at, 1 FROM new_rows",
    "update": (
        "SELECT public_point_3857, status::text, closed_at, 1 FROM new_rows "
        "UNION ALL SELECT public_point_3857, status::text, closed_at, -1 FROM old_rows"
    ),
    "delete": "SELECT public_point_3857, status::text, closed_at, -1 FROM old_rows",
}

_REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}

_TRUNCATE = """
CREATE FUNCTION incident_tile_bins_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE incident_tile_bins;
    RETURN NULL;
END
$$
"""

# Recomputes every bin from the incidents: the backfill below, and the repair after a
# load that ran with triggers disabled (session_replication_role = replica).
_REBUILD = """
CREATE FUNCTION incident_tile_bins_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM incident_tile_bins;
    INSERT INTO incident_tile_bins (zoom, closed_on, quadkey, status, x, y, incidents)
    SELECT k.zoom, k.closed_on, k.quadkey, i.status, k.x, k.y, count(*)
    FROM incidents i
    CROSS JOIN LATERAL incident_tile_bin_keys(i.public_point_3857, i.status, i.closed_at) k
    GROUP BY k.zoom, k.closed_on, k.quadkey, i.status, k.x, k.y;
$$
"""

# The detail tiles (zoom 15 and up) read open and recently closed incidents apart, each
# from a GiST index holding only the incidents it may show; the whole-table index of
# 0009 would walk every closed report of the area too.
_SHOWN = "status NOT IN ('rejected', 'duplicate')"


def upgrade() -> None:
    op.create_table(
        "incident_tile_bins",
        sa.Column("zoom", sa.SmallInteger(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("quadkey", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        # Covering: a tile's read is an index-only scan, not a heap page per bin.
        sa.PrimaryKeyConstraint(
            "zoom",
            "closed_on",
            "quadkey",
            "status",
            name="pk_incident_tile_bins",
            postgresql_include=["x", "y", "incidents"],
        ),
    )
    # Vacuumed often (it is small and every report updates it), so the visibility map
    # stays fresh enough for those index-only scans.
    op.execute(
        "ALTER TABLE incident_tile_bins SET (autovacuum_vacuum_scale_factor = 0.01, "
        "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)"
    )
    op.execute(_MORTON)
    op.execute(_KEYS)
    for name, changes in _CHANGES.items():
        op.execute(_APPLY.format(op=name, changes=changes))
        op.execute(
            f"CREATE TRIGGER incident_tile_bins_{name} AFTER {name.upper()} ON incidents "
            f"{_REFERENCING[name]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION incident_tile_bins_{name}()"
        )
    op.execute(_TRUNCATE)
    op.execute(
        "CREATE TRIGGER incident_tile_bins_truncate AFTER TRUNCATE ON incidents "
        "FOR EACH STATEMENT EXECUTE FUNCTION incident_tile_bins_truncate()"
    )
    op.execute(_REBUILD)
    op.execute("SELECT incident_tile_bins_rebuild()")

    op.create_index(
        "ix_incidents_public_point_open",
        "incidents",
        ["public_point_3857"],
        postgresql_using="gist",
        postgresql_where=sa.text(f"closed_at IS NULL AND {_SHOWN}"),
    )
    op.create_index(
        "ix_incidents_public_point_closed",
        "incidents",
        ["public_point_3857", "closed_at"],
        postgresql_using="gist",
        postgresql_where=sa.text(f"closed_at IS NOT NULL AND {_SHOWN}"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_public_point_closed", table_name="incidents")
    op.drop_index("ix_incidents_public_point_open", table_name="incidents")
    for name in (*_CHANGES, "truncate"):
        op.execute(f"DROP TRIGGER incident_tile_bins_{name} ON incidents")
        op.execute(f"DROP FUNCTION incident_tile_bins_{name}()")
    op.execute("DROP FUNCTION incident_tile_bins_rebuild()")
    op.execute("DROP FUNCTION incident_tile_bin_keys(geometry, text, timestamptz)")
    op.execute("DROP FUNCTION tile_morton(integer, integer)")
    op.drop_table("incident_tile_bins")
