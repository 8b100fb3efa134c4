-- Keeps a report's text unpublished until staff review it: new or changed text is pending (or 'none' when blank), except retention's redaction.
CREATE OR REPLACE FUNCTION incidents_text_review() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.description IS NOT DISTINCT FROM OLD.description THEN
        RETURN NEW;
    END IF;
    -- Retention redacts phone and ID numbers in the statement that marks the report
    -- anonymised: the reviewed publication stands as it was (the redaction only removes).
    IF TG_OP = 'UPDATE' AND OLD.anonymised_at IS NULL AND NEW.anonymised_at IS NOT NULL THEN
        NEW.text_review := OLD.text_review;
        NEW.published_description := OLD.published_description;
        NEW.text_reviewed_by_id := OLD.text_reviewed_by_id;
        NEW.text_reviewed_at := OLD.text_reviewed_at;
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
