-- Audits every incident status step (its event row), whichever code path wrote it.
CREATE OR REPLACE FUNCTION audit_incident_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.to_status IS NOT NULL AND NEW.to_status IS DISTINCT FROM NEW.from_status THEN
        INSERT INTO audit_log (action, actor_id, actor_role, subject_type, subject_id, detail)
        VALUES ('state_change', NEW.actor_id, NEW.actor_role, 'incident',
                NEW.incident_id::text,
                jsonb_build_object('event', NEW.kind, 'from', NEW.from_status,
                                   'to', NEW.to_status));
    END IF;
    RETURN NULL;
END $$
