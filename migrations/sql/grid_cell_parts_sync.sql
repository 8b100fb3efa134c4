-- Keeps grid_cell_parts (the subdivided copy used by point -> cell lookups) equal to the in-force cells, whichever code writes grid_cells.
CREATE OR REPLACE FUNCTION grid_cell_parts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM grid_cell_parts WHERE cell_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND NEW.active_from IS NOT NULL AND NEW.active_to IS NULL THEN
        -- Small pieces keep each ST_Covers test cheap and the GiST boxes tight.
        INSERT INTO grid_cell_parts (cell_id, code, part)
        SELECT NEW.id, NEW.code, ST_Subdivide(NEW.boundary, 64);
    END IF;
    RETURN NULL;
END $$
