-- The register building with an address nearest the WGS84 point :lon/:lat within
-- :building_m metres (distance 0 when the point is on its footprint): at most one row of
-- id, address, distance_m. The one home of a pin's address: the report page's
-- confirmation (grid/place.py) and the address intake gives a report filed without one
-- (incidents/intake.py) are the same building. The prefilter box (:building_deg) is
-- built around the point literal in the column's SRID, so the GiST index is used; the
-- exact distance is measured on the spheroid.
SELECT b.id, b.address,
       ST_Distance(b.footprint::geography,
                   ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m
FROM buildings b
WHERE b.footprint && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :building_deg)
  AND ST_DWithin(b.footprint::geography,
                 ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :building_m)
  AND btrim(b.address) <> ''
ORDER BY distance_m, b.id
LIMIT 1
