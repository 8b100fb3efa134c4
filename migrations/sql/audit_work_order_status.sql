-- Audits every work order's creation and status change, whichever code path made it.
CREATE OR REPLACE FUNCTION audit_work_order_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (action, subject_type, subject_id, detail)
    VALUES ('state_change', 'work_order', NEW.id::text,
            jsonb_build_object('from', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                               'to', NEW.status));
    RETURN NULL;
END $$
