-- What a pin is near, in words a resident knows: the register building nearest the point
-- (nearest_building.sql, composed in by grid/place.py where the CTE names it) and the
-- nearest named base-map road within :road_m metres. Public facts only: addresses of
-- buildings (the public /buildings and /addresses answer them too) and road names;
-- nothing about reports. The road's prefilter box is built around the point literal in
-- the column's SRID, so the GiST index is used; the exact distance is measured on the
-- spheroid.
WITH pt AS (
    SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g
),
building AS (
    {nearest_building}
),
road AS (
    SELECT r.name, ST_Distance(r.geom::geography, pt.g::geography) AS distance_m
    FROM basemap.roads r, pt
    WHERE r.geom && ST_Expand(pt.g, :road_deg)
      AND ST_DWithin(r.geom::geography, pt.g::geography, :road_m)
      AND btrim(coalesce(r.name, '')) <> ''
    ORDER BY distance_m, r.id
    LIMIT 1
)
SELECT
    (SELECT row_to_json(building) FROM building) AS building,
    (SELECT row_to_json(road) FROM road) AS road
