-- Keeps incident_rating_day_counts (valid handling ratings, and the satisfied ones among them, per rated report's region and China day of report: what the coverage map's region levels sum) equal to the ratings, in the same transaction as each change.

-- Adds net changes (one row per key, signed) in key order, so two statements never lock
-- the same counts in opposite orders; a count back at zero is deleted by the statement
-- that emptied it (it holds the lock).
CREATE OR REPLACE FUNCTION incident_rating_day_counts_add(deltas incident_rating_day_counts[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    emptied incident_rating_day_counts[];
BEGIN
    IF coalesce(cardinality(deltas), 0) = 0 THEN
        RETURN;
    END IF;
    WITH upserted AS (
        INSERT INTO incident_rating_day_counts AS s
        SELECT * FROM unnest(deltas) d ORDER BY d.region_id, d.created_on
        ON CONFLICT (region_id, created_on)
        DO UPDATE SET ratings = s.ratings + EXCLUDED.ratings,
                      satisfied = s.satisfied + EXCLUDED.satisfied
        RETURNING s.*
    )
    SELECT array_agg(u) INTO emptied FROM upserted u WHERE u.ratings = 0;
    -- A second statement: the upsert's own CTE could not see the rows it changed.
    IF emptied IS NOT NULL THEN
        DELETE FROM incident_rating_day_counts s USING unnest(emptied) e
        WHERE s.region_id = e.region_id AND s.created_on = e.created_on AND s.ratings = 0;
    END IF;
END
$$;

-- Signed rating changes (+1 / -1 per rating, `overall` telling the satisfied ones) as
-- counts under their reports' keys. The reports are read FOR SHARE, in id order: a
-- report's region or day cannot change under a rating being counted, and a change
-- already made is the one read. A rating removed with its report (cascade) finds no
-- report: incident_rating_day_counts_forget took it off before the report went.
CREATE OR REPLACE FUNCTION incident_rating_day_counts_apply(incident_ids bigint[],
                                                            overalls smallint[],
                                                            deltas integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM incident_rating_day_counts_add(array(
        SELECT row(coalesce(i.region_id, 0), (i.created_at AT TIME ZONE 'Asia/Shanghai')::date,
                   sum(c.delta), coalesce(sum(c.delta) FILTER (WHERE c.overall >= 4), 0))
               ::incident_rating_day_counts
        FROM unnest(incident_ids, overalls, deltas) AS c(incident_id, overall, delta)
        JOIN (SELECT id, region_id, created_at FROM incidents WHERE id = ANY(incident_ids)
              ORDER BY id FOR SHARE) i ON i.id = c.incident_id
        GROUP BY coalesce(i.region_id, 0), (i.created_at AT TIME ZONE 'Asia/Shanghai')::date
        HAVING sum(c.delta) <> 0 OR sum(c.delta) FILTER (WHERE c.overall >= 4) <> 0));
END
$$;

-- Ratings written, changed (excluded, re-rated) or removed: only valid handling ratings
-- count.
CREATE OR REPLACE FUNCTION incident_rating_day_counts_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    overalls smallint[];
    deltas integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(incident_id), array_agg(overall), array_agg(1)
        INTO ids, overalls, deltas
        FROM new_rows WHERE kind = 'handling' AND NOT excluded;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(incident_id), array_agg(overall), array_agg(-1)
        INTO ids, overalls, deltas
        FROM old_rows WHERE kind = 'handling' AND NOT excluded;
    ELSE
        SELECT array_agg(c.incident_id), array_agg(c.overall), array_agg(c.delta)
        INTO ids, overalls, deltas
        FROM (SELECT incident_id, overall, 1 AS delta FROM new_rows
              WHERE kind = 'handling' AND NOT excluded
              UNION ALL
              SELECT incident_id, overall, -1 FROM old_rows
              WHERE kind = 'handling' AND NOT excluded) c;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM incident_rating_day_counts_apply(ids, overalls, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- A report whose region or China day of report changed takes its rating along.
CREATE OR REPLACE FUNCTION incident_rating_day_counts_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM incident_rating_day_counts_add(array(
        SELECT row(m.region_id, m.created_on, sum(m.delta),
                   coalesce(sum(m.delta) FILTER (WHERE r.overall >= 4), 0))
               ::incident_rating_day_counts
        FROM (SELECT n.id, k.region_id, k.created_on, k.delta
              FROM new_rows n JOIN old_rows o ON o.id = n.id
              CROSS JOIN LATERAL (VALUES
                  (coalesce(n.region_id, 0), (n.created_at AT TIME ZONE 'Asia/Shanghai')::date, 1),
                  (coalesce(o.region_id, 0), (o.created_at AT TIME ZONE 'Asia/Shanghai')::date, -1)
              ) k(region_id, created_on, delta)
              WHERE n.region_id IS DISTINCT FROM o.region_id
                 OR (n.created_at AT TIME ZONE 'Asia/Shanghai')::date
                    <> (o.created_at AT TIME ZONE 'Asia/Shanghai')::date) m
        JOIN ratings r ON r.incident_id = m.id AND r.kind = 'handling' AND NOT r.excluded
        GROUP BY m.region_id, m.created_on));
    RETURN NULL;
END
$$;

-- Before a report is deleted (its ratings go with it, by cascade), its rating leaves the
-- counts. Row by row: reports are deleted rarely, and the cascade's own trigger could no
-- longer find the report.
CREATE OR REPLACE FUNCTION incident_rating_day_counts_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM incident_rating_day_counts_add(array(
        SELECT row(coalesce(OLD.region_id, 0),
                   (OLD.created_at AT TIME ZONE 'Asia/Shanghai')::date, -count(*),
                   -count(*) FILTER (WHERE r.overall >= 4))::incident_rating_day_counts
        FROM ratings r
        WHERE r.incident_id = OLD.id AND r.kind = 'handling' AND NOT r.excluded
        HAVING count(*) > 0));
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION incident_rating_day_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE incident_rating_day_counts;
    RETURN NULL;
END
$$;

-- Recomputes every count from the ratings: the backfill, and the repair after a load
-- that ran with triggers disabled (session_replication_role = replica).
CREATE OR REPLACE FUNCTION incident_rating_day_counts_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM incident_rating_day_counts;
    INSERT INTO incident_rating_day_counts (region_id, created_on, ratings, satisfied)
    SELECT coalesce(i.region_id, 0), (i.created_at AT TIME ZONE 'Asia/Shanghai')::date,
           count(*), count(*) FILTER (WHERE r.overall >= 4)
    FROM ratings r JOIN incidents i ON i.id = r.incident_id
    WHERE r.kind = 'handling' AND NOT r.excluded
    GROUP BY 1, 2;
$$;
