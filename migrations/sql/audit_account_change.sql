-- Audits every account's creation and change of role, area or activation.
CREATE OR REPLACE FUNCTION audit_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (action, subject_type, subject_id, detail)
    VALUES ('account_change', 'user', NEW.id::text,
            jsonb_build_object('username', NEW.username, 'role', NEW.role,
                               'region_id', NEW.region_id, 'active', NEW.is_active,
                               'op', lower(TG_OP)));
    RETURN NULL;
END $$
