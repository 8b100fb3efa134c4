-- Keeps incident_day_counts (incidents per region, status, fire-hazard kind, China day of report and, while open, resolve deadline: what the coverage map's region levels sum) equal to the incidents, in the same transaction as each change.

-- Still being worked: incidents.status.OPEN (tests/test_incident_day_counts.py checks the
-- two agree). Only an open report keeps its deadline in the key, so overdue can be told
-- at any moment while the finished ones fold into a few counts per day.
CREATE OR REPLACE FUNCTION incident_status_open(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT status IN ('submitted', 'assigned', 'accepted', 'in_progress', 'transferred',
                      'reopened')
$$;

-- A fire hazard: a fire category that is not the emergency ("fire burning now"). The
-- coverage map's per-cell figures call it too, so a cell and a district mean one thing.
CREATE OR REPLACE FUNCTION category_fire_hazard(group_code text, is_emergency boolean)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(group_code = 'fire' AND NOT is_emergency, false)
$$;

-- The count an incident is in. A report with no region (its region was deleted) counts
-- under region 0, so the key needs no NULL.
CREATE OR REPLACE FUNCTION incident_day_count_key(region_id integer, category_code text,
                                                  status text, created_at timestamptz,
                                                  resolve_due_at timestamptz)
RETURNS TABLE (region_id integer, status text, fire_hazard boolean, created_on date,
               due_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce($1, 0), $3,
           coalesce((SELECT category_fire_hazard(k.group_code, k.is_emergency)
                     FROM incident_categories k WHERE k.code = $2), false),
           ($4 AT TIME ZONE 'Asia/Shanghai')::date,
           CASE WHEN incident_status_open($3) THEN coalesce($5, 'infinity') ELSE 'infinity' END
$$;

-- Adds a statement's net changes (one row per key, `incidents` the signed delta) in key
-- order, so two statements never lock the same counts in opposite orders; a count that
-- drops to zero is deleted, and only by the statement that emptied it (it holds the lock:
-- no wait, no deadlock).
CREATE OR REPLACE FUNCTION incident_day_counts_add(deltas incident_day_counts[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    emptied incident_day_counts[];
BEGIN
    IF coalesce(cardinality(deltas), 0) = 0 THEN
        RETURN;
    END IF;
    WITH upserted AS (
        INSERT INTO incident_day_counts AS s
        SELECT * FROM unnest(deltas) d
        ORDER BY d.region_id, d.fire_hazard, d.created_on, d.status, d.due_at
        ON CONFLICT (region_id, fire_hazard, created_on, status, due_at)
        DO UPDATE SET incidents = s.incidents + EXCLUDED.incidents
        RETURNING s.*
    )
    SELECT array_agg(u) INTO emptied FROM upserted u WHERE u.incidents = 0;
    IF emptied IS NOT NULL THEN
        DELETE FROM incident_day_counts s USING unnest(emptied) e
        WHERE s.region_id = e.region_id AND s.status = e.status
          AND s.fire_hazard = e.fire_hazard AND s.created_on = e.created_on
          AND s.due_at = e.due_at AND s.incidents = 0;
    END IF;
END
$$;

-- One trigger function for insert, update and delete: each branch nets the statement's
-- rows (+1 new, -1 old) per key; an update that moves nothing nets to no change.
CREATE OR REPLACE FUNCTION incident_day_counts_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM incident_day_counts_add(array(
            SELECT row(k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at,
                       count(*))::incident_day_counts
            FROM new_rows c
            CROSS JOIN LATERAL incident_day_count_key(c.region_id, c.category_code, c.status,
                                                      c.created_at, c.resolve_due_at) k
            GROUP BY k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM incident_day_counts_add(array(
            SELECT row(k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at,
                       -count(*))::incident_day_counts
            FROM old_rows c
            CROSS JOIN LATERAL incident_day_count_key(c.region_id, c.category_code, c.status,
                                                      c.created_at, c.resolve_due_at) k
            GROUP BY k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at));
    ELSE
        PERFORM incident_day_counts_add(array(
            SELECT row(k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at,
                       sum(c.delta))::incident_day_counts
            FROM (SELECT region_id, category_code, status, created_at, resolve_due_at,
                         1 AS delta FROM new_rows
                  UNION ALL
                  SELECT region_id, category_code, status, created_at, resolve_due_at, -1
                  FROM old_rows) c
            CROSS JOIN LATERAL incident_day_count_key(c.region_id, c.category_code, c.status,
                                                      c.created_at, c.resolve_due_at) k
            GROUP BY k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at
            HAVING sum(c.delta) <> 0));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION incident_day_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE incident_day_counts;
    RETURN NULL;
END
$$;

-- A category that becomes (or stops being) a fire hazard moves its reports' counts: -1
-- under the old kind, +1 under the new one.
CREATE OR REPLACE FUNCTION incident_day_counts_recategorise() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM incident_day_counts_add(array(
        SELECT row(k.region_id, k.status, f.fire_hazard, k.created_on, k.due_at,
                   sum(f.delta))::incident_day_counts
        FROM (SELECT n.code,
                     category_fire_hazard(o.group_code, o.is_emergency) AS was,
                     category_fire_hazard(n.group_code, n.is_emergency) AS now
              FROM old_rows o JOIN new_rows n ON n.code = o.code) m
        JOIN incidents i ON i.category_code = m.code
        CROSS JOIN LATERAL incident_day_count_key(i.region_id, i.category_code, i.status,
                                                  i.created_at, i.resolve_due_at) k
        CROSS JOIN LATERAL (VALUES (m.was, -1), (m.now, 1)) f(fire_hazard, delta)
        WHERE m.was <> m.now
        GROUP BY k.region_id, k.status, f.fire_hazard, k.created_on, k.due_at));
    RETURN NULL;
END
$$;

-- Recomputes every count from the incidents: the backfill, and the repair after a load
-- that ran with triggers disabled (session_replication_role = replica).
CREATE OR REPLACE FUNCTION incident_day_counts_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM incident_day_counts;
    INSERT INTO incident_day_counts (region_id, status, fire_hazard, created_on, due_at,
                                     incidents)
    SELECT k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at, count(*)
    FROM incidents i
    CROSS JOIN LATERAL incident_day_count_key(i.region_id, i.category_code, i.status,
                                              i.created_at, i.resolve_due_at) k
    GROUP BY k.region_id, k.status, k.fire_hazard, k.created_on, k.due_at;
$$;
