-- Keeps incidents.public_point_3857 the coarsened public place (per category's precision), so tiles never show an exact pin the category hides.
CREATE OR REPLACE FUNCTION incidents_public_point_3857() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    shown text;
    coarse geometry;
BEGIN
    SELECT public_precision INTO shown
    FROM incident_categories WHERE code = NEW.category_code;
    IF shown = 'exact' THEN
        coarse := NEW.location;
    ELSIF shown = 'cell' THEN
        SELECT ST_PointOnSurface(boundary) INTO coarse FROM grid_cells WHERE id = NEW.cell_id;
        coarse := coalesce(coarse, ST_SnapToGrid(NEW.location, 0.005));
    ELSE  -- 'building', and the safe choice for anything unknown
        SELECT ST_PointOnSurface(footprint) INTO coarse FROM buildings
        WHERE id = NEW.building_id;
        coarse := coalesce(coarse, ST_SnapToGrid(NEW.location, 0.001));
    END IF;
    NEW.public_point_3857 := ST_Transform(coarse, 3857);
    RETURN NEW;
END
$$
