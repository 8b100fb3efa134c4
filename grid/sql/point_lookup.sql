-- Point -> grid cell -> region chain -> responsible person, in one round trip.
-- Why this shape:
--  * ST_Covers (not ST_Contains) on the subdivided parts, so a point on an edge or a
--    vertex is found; when it touches several cells the smallest code wins, so the
--    same point always resolves to the same cell.
--  * A point just outside every cell (GPS drift, a pin on the road between two cells)
--    goes to the nearest cell within :tolerance_m metres. The prefilter box is built
--    around the point literal in the column's SRID so the GiST index is used; the exact
--    distance is then measured on the spheroid.
--  * Further out, the deepest region covering the point takes it (its manager's queue).
--  * Responsible: the primary worker in force on :on, else a backup, else the manager of
--    the deepest region in the chain (属地兜底).
--  * The assignment-in-force test is grid.sql_fragments' one spelling, filled in by
--    grid.lookup.point_lookup_sql when the text is first read.
WITH pt AS (
    SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g
),
inside AS (
    SELECT p.cell_id, 0.0::float8 AS distance_m, 'inside'::text AS match
    FROM grid_cell_parts p, pt
    WHERE ST_Covers(p.part, pt.g)
    ORDER BY p.code
    LIMIT 1
),
nearby AS (
    SELECT p.cell_id, ST_Distance(p.part::geography, pt.g::geography) AS distance_m,
           'nearest'::text AS match
    FROM grid_cell_parts p, pt
    WHERE NOT EXISTS (SELECT 1 FROM inside)
      AND p.part && ST_Expand(pt.g, :tolerance_deg)
      AND ST_DWithin(p.part::geography, pt.g::geography, :tolerance_m)
    ORDER BY distance_m, p.code
    LIMIT 1
),
hit AS (
    SELECT * FROM inside UNION ALL SELECT * FROM nearby LIMIT 1
),
cell AS (
    SELECT c.id, c.code, c.name, c.community_id, hit.distance_m, hit.match
    FROM grid_cells c JOIN hit ON c.id = hit.cell_id
),
home AS (
    SELECT r.id, r.path FROM regions r JOIN cell ON r.id = cell.community_id
    UNION ALL
    (SELECT r.id, r.path FROM regions r, pt
     WHERE NOT EXISTS (SELECT 1 FROM cell) AND r.boundary && pt.g AND ST_Covers(r.boundary, pt.g)
     ORDER BY length(r.path) DESC, r.code
     LIMIT 1)
),
chain AS (
    SELECT a.id, a.code, a.name, a.level, length(a.path) AS depth
    FROM regions a, home
    WHERE a.id = ANY (string_to_array(trim(BOTH '/' FROM home.path), '/')::int[])
),
responsible AS (
    SELECT u.id, u.username, u.display_name, u.phone, ca.kind AS level,
           CASE ca.kind WHEN 'primary' THEN 0 ELSE 1 END AS rank, ca.valid_from AS since
    FROM cell_assignments ca
    JOIN cell ON ca.cell_id = cell.id
    JOIN users u ON u.id = ca.user_id
    WHERE u.is_active AND {assignment_in_force}
    UNION ALL
    SELECT u.id, u.username, u.display_name, u.phone, u.role AS level,
           2 + (1000 - chain.depth) AS rank, NULL AS since
    FROM users u JOIN chain ON u.region_id = chain.id
    WHERE u.is_active AND u.role = ANY(:area_managers)
    ORDER BY rank, since, username
    LIMIT 1
)
SELECT
    (SELECT row_to_json(cell) FROM cell) AS cell,
    (SELECT json_agg(json_build_object('code', code, 'name', name, 'level', level)
                     ORDER BY depth) FROM chain) AS regions,
    (SELECT row_to_json(responsible) FROM responsible) AS responsible
