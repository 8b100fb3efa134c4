-- Keeps incident_tile_bins (incident counts per zoom 16-18 tile, status and closing day, read by the low-zoom count tiles) equal to the incidents, in the same transaction as each change.

-- Morton (Z-order) code of a tile at one zoom: x in the even bits, y in the odd ones, so
-- the bins inside any coarser tile have consecutive codes (one B-tree range).
CREATE OR REPLACE FUNCTION tile_morton(x integer, y integer) RETURNS bigint
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
$$;

-- The bins (zooms 16, 17, 18) an incident is counted in; none when it is never shown.
CREATE OR REPLACE FUNCTION incident_tile_bin_keys(point geometry, status text, closed_at timestamptz)
RETURNS TABLE (zoom smallint, closed_on date, quadkey bigint, x integer, y integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- The finest tile once; the coarser ones are its bits shifted out.
    SELECT (18 - up.k)::smallint,
           coalesce((closed_at AT TIME ZONE 'Asia/Shanghai')::date, 'infinity'::date),
           f.code >> (2 * up.k), f.x >> up.k, f.y >> up.k
    FROM (SELECT c.x, c.y, tile_morton(c.x, c.y) AS code
          FROM (SELECT least(greatest(floor((ST_X(point) + 20037508.342789244)
                                            / 152.8740565703525
                                            )::integer, 0), 262143) AS x,
                       least(greatest(floor((20037508.342789244 - ST_Y(point))
                                            / 152.8740565703525
                                            )::integer, 0), 262143) AS y
               ) c) f,
         generate_series(0, 2) AS up(k)
    WHERE point IS NOT NULL AND status NOT IN ('rejected', 'duplicate')
$$;

-- One aggregated upsert per statement, in key order (two statements never lock the same
-- bins in opposite orders); a bin that drops to zero is deleted. The three differ only in
-- the rows of the 'changes' CTE, taken from the statement's transition tables.
CREATE OR REPLACE FUNCTION incident_tile_bins_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied record;
BEGIN
    WITH changes (point, status, closed_at, delta) AS (SELECT public_point_3857, status::text, closed_at, 1 FROM new_rows),
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
$$;

CREATE OR REPLACE FUNCTION incident_tile_bins_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied record;
BEGIN
    WITH changes (point, status, closed_at, delta) AS (SELECT public_point_3857, status::text, closed_at, 1 FROM new_rows UNION ALL SELECT public_point_3857, status::text, closed_at, -1 FROM old_rows),
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
$$;

CREATE OR REPLACE FUNCTION incident_tile_bins_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied record;
BEGIN
    WITH changes (point, status, closed_at, delta) AS (SELECT public_point_3857, status::text, closed_at, -1 FROM old_rows),
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
$$;

CREATE OR REPLACE FUNCTION incident_tile_bins_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE incident_tile_bins;
    RETURN NULL;
END
$$;

-- Recomputes every bin from the incidents: the backfill, and the repair after a load that
-- ran with triggers disabled (session_replication_role = replica).
CREATE OR REPLACE FUNCTION incident_tile_bins_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM incident_tile_bins;
    INSERT INTO incident_tile_bins (zoom, closed_on, quadkey, status, x, y, incidents)
    SELECT k.zoom, k.closed_on, k.quadkey, i.status, k.x, k.y, count(*)
    FROM incidents i
    CROSS JOIN LATERAL incident_tile_bin_keys(i.public_point_3857, i.status, i.closed_at) k
    GROUP BY k.zoom, k.closed_on, k.quadkey, i.status, k.x, k.y;
$$;
