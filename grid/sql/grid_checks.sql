-- Problems in a set of cells (one boundary version), per community, with the offending
-- geometry and its area on the spheroid. Slivers under :min_area_m2 are noise from
-- digitising and are not reported.
WITH cells AS (
    SELECT c.id, c.code, c.community_id, c.boundary
    FROM grid_cells c WHERE c.version_id = :version_id
),
overlap_rows AS (
    SELECT 'overlap'::text AS kind, r.code AS community_code,
           ARRAY[a.code, b.code] AS cell_codes,
           ST_CollectionExtract(ST_Intersection(a.boundary, b.boundary), 3) AS geom
    FROM cells a
    JOIN cells b ON a.community_id = b.community_id AND a.code < b.code
                AND a.boundary && b.boundary
                AND ST_Relate(a.boundary, b.boundary, '2********')
    JOIN regions r ON r.id = a.community_id
),
outside_rows AS (
    SELECT 'outside_community'::text, r.code, ARRAY[c.code],
           ST_CollectionExtract(ST_Difference(c.boundary, r.boundary), 3)
    FROM cells c JOIN regions r ON r.id = c.community_id
    WHERE NOT ST_CoveredBy(c.boundary, r.boundary)
),
gap_rows AS (
    SELECT 'gap'::text, r.code, ARRAY[]::varchar[],
           (ST_Dump(ST_CollectionExtract(
               ST_Difference(r.boundary, ST_Union(c.boundary)), 3))).geom
    FROM cells c JOIN regions r ON r.id = c.community_id
    GROUP BY r.id, r.code, r.boundary
),
found AS (
    SELECT * FROM overlap_rows UNION ALL SELECT * FROM outside_rows
    UNION ALL SELECT * FROM gap_rows
)
SELECT kind, community_code, cell_codes, ST_Area(geom::geography) AS area_m2,
       ST_AsGeoJSON(geom, 7) AS geometry
FROM found
WHERE NOT ST_IsEmpty(geom) AND ST_Area(geom::geography) >= :min_area_m2
ORDER BY community_code, kind, cell_codes
