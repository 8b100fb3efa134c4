-- Superseded (migration 0010, restored by 0025's downgrade): new or changed report text is unreviewed and unpublished.
CREATE OR REPLACE FUNCTION incidents_text_review() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.description IS NOT DISTINCT FROM OLD.description THEN
        RETURN NEW;
    END IF;
    NEW.text_review := CASE WHEN coalesce(btrim(NEW.description), '') = '' THEN 'none'
                            ELSE 'pending' END;
    NEW.published_description := NULL;
    NEW.text_reviewed_by_id := NULL;
    NEW.text_reviewed_at := NULL;
    RETURN NEW;
END
$$
