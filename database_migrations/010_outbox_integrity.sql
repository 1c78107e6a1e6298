-- Stream events that cannot be forged, and password hashes only for the role that checks them.
--
-- 1. An outbox row's tier is its signal's own risk_tier, whatever the inserting role wrote, and an
--    'outcome' event is refused unless the signal has an outcome. The web role may insert outbox
--    rows (with the signal it records), so without this a row marking a high signal 'low', or an
--    'outcome' event for a signal still open, would replay it to low-tier users: catch-up filters
--    on outbox.signal_tier. The trigger runs as the inserting role (it needs nothing more than the
--    SELECT on signals every application role has) and names its table with the schema.
-- 2. SELECT on users is column-level for the worker and admin roles, without password_hash: only
--    the web role's log-in check reads it (journal/identity.py, as trading_app_user). New columns
--    of users are not readable by those roles until granted here.

CREATE FUNCTION outbox_event_of_signal() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    tier text;
    settled boolean;
BEGIN
    SELECT s.risk_tier, s.outcome IS NOT NULL INTO tier, settled FROM public.signals s WHERE s.id = NEW.signal_pk;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'outbox: no signal %', NEW.signal_pk USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.kind = 'outcome' AND NOT settled THEN
        RAISE EXCEPTION 'outbox: an outcome event for signal %, which has no outcome', NEW.signal_pk
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.signal_tier := tier;
    RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION outbox_event_of_signal() FROM PUBLIC;
CREATE TRIGGER outbox_event_of_signal BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_event_of_signal();

REVOKE SELECT ON users FROM trading_worker_user, trading_admin_user;
GRANT SELECT (id, email, role, risk_tier, plan, disabled, tokens_valid_after, created_at) ON users
    TO trading_worker_user, trading_admin_user;
