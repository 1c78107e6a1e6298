-- One stream for every event a client must not miss, an audit chain built by the relay, and time
-- limits per role.
--
-- 1. The outbox becomes the stream's log: one row per event (a signal's creation, its outcome),
--    written in the transaction that caused it; the relay gives each a gap-free `seq` in the order
--    rows become visible, so catch-up after a cursor returns signals and outcomes in one order. An
--    event the relay cannot encode is set aside (failed_at, error) without taking a seq, so no
--    client waits for it. signals.stream_seq stays the seq of the signal's own creation event.
-- 2. Key columns that hold a signals.id are named signal_pk (signals.signal_id is the public UUID).
-- 3. The audit chain is no longer taken under a lock in every writer's transaction: rows are
--    appended unchained, and the relay (already serialized) chains them in id order. A guard keeps
--    every row unchanged except filling in its chain once, and refuses DELETE/TRUNCATE.
-- 4. statement_timeout, lock_timeout and idle-in-transaction limits per application role.

ALTER TABLE outbox RENAME COLUMN signal_id TO signal_pk;
ALTER TABLE outbox DROP CONSTRAINT outbox_signal_id_key;
ALTER TABLE outbox ADD COLUMN kind text NOT NULL DEFAULT 'signal' CHECK (kind IN ('signal', 'outcome'));
ALTER TABLE outbox ADD CONSTRAINT outbox_event_once UNIQUE (signal_pk, kind);
ALTER TABLE outbox ADD COLUMN signal_tier text CHECK (signal_tier IN ('low', 'medium', 'high'));
ALTER TABLE outbox ADD COLUMN seq bigint UNIQUE;
ALTER TABLE outbox ADD COLUMN failed_at timestamptz;
ALTER TABLE outbox ADD COLUMN error text;
UPDATE outbox o SET signal_tier = s.risk_tier, seq = s.stream_seq FROM signals s WHERE s.id = o.signal_pk;
ALTER TABLE outbox ALTER COLUMN signal_tier SET NOT NULL;
ALTER TABLE outbox ALTER COLUMN kind DROP DEFAULT;

DROP INDEX outbox_unsequenced_idx;
DROP INDEX outbox_unemitted_idx;
CREATE INDEX outbox_unsequenced_idx ON outbox (id) WHERE seq IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_unemitted_idx ON outbox (seq) WHERE seq IS NOT NULL AND emitted_at IS NULL;
CREATE INDEX outbox_tier_seq_idx ON outbox (signal_tier, seq) WHERE seq IS NOT NULL;
CREATE INDEX outbox_failed_idx ON outbox (id) WHERE failed_at IS NOT NULL;

REVOKE INSERT ON outbox FROM trading_app_user, trading_worker_user;
GRANT INSERT (signal_pk, kind, signal_tier) ON outbox TO trading_app_user, trading_worker_user, trading_admin_user;
GRANT SELECT ON outbox TO trading_admin_user;
GRANT UPDATE (seq, failed_at, error) ON outbox TO trading_worker_user;

ALTER TABLE user_signals RENAME COLUMN signal_id TO signal_pk;

-- The audit chain, built by the relay.
DROP TRIGGER audit_log_chain ON audit_log;
DROP FUNCTION audit_log_chain();
DROP SEQUENCE audit_log_chain_seq;

CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.chain_pos IS NOT NULL
       OR (NEW.id, NEW.actor_id, NEW.action, NEW.entity, NEW.entity_id, NEW.detail, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.actor_id, OLD.action, OLD.entity, OLD.entity_id, OLD.detail, OLD.created_at)
    THEN
        RAISE EXCEPTION 'audit rows are append-only; only their chain is filled in, once'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_guard_row BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_guard_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard();

-- Chain up to `batch` unchained rows in id order after the chain's end; returns how many. Runs as
-- its caller (the worker role), whose grants allow only the chain columns to be filled in.
CREATE FUNCTION chain_audit_log(batch int) RETURNS int LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    last_hash text;
    pos bigint;
    r record;
    done int := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_log_chain'));
    SELECT a.hash, a.chain_pos INTO last_hash, pos FROM public.audit_log a
        WHERE a.chain_pos IS NOT NULL ORDER BY a.chain_pos DESC LIMIT 1;
    last_hash := coalesce(last_hash, '');
    pos := coalesce(pos, 0);
    FOR r IN SELECT * FROM public.audit_log a WHERE a.chain_pos IS NULL ORDER BY a.id LIMIT batch FOR UPDATE LOOP
        pos := pos + 1;
        UPDATE public.audit_log SET chain_pos = pos, prev_hash = last_hash,
            hash = encode(sha256(convert_to(concat_ws('|', last_hash, r.actor_id, r.action, r.entity,
                r.entity_id, r.detail::text, r.created_at::text), 'UTF8')), 'hex')
            WHERE id = r.id RETURNING hash INTO last_hash;
        done := done + 1;
    END LOOP;
    RETURN done;
END $$;
CREATE INDEX audit_log_unchained_idx ON audit_log (id) WHERE chain_pos IS NULL;
REVOKE EXECUTE ON FUNCTION chain_audit_log(int), audit_log_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chain_audit_log(int) TO trading_worker_user;
GRANT UPDATE (chain_pos, prev_hash, hash) ON audit_log TO trading_worker_user;

-- Time limits per role, in this database: a stuck statement or lock gives up instead of piling up.
DO $$
BEGIN
    EXECUTE format('ALTER ROLE trading_app_user IN DATABASE %I SET statement_timeout = %L', current_database(), '5s');
    EXECUTE format('ALTER ROLE trading_app_user IN DATABASE %I SET lock_timeout = %L', current_database(), '2s');
    EXECUTE format('ALTER ROLE trading_app_user IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '30s');
    EXECUTE format('ALTER ROLE trading_admin_user IN DATABASE %I SET statement_timeout = %L', current_database(), '10s');
    EXECUTE format('ALTER ROLE trading_admin_user IN DATABASE %I SET lock_timeout = %L', current_database(), '3s');
    EXECUTE format('ALTER ROLE trading_admin_user IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '30s');
    EXECUTE format('ALTER ROLE trading_worker_user IN DATABASE %I SET statement_timeout = %L', current_database(), '30s');
    EXECUTE format('ALTER ROLE trading_worker_user IN DATABASE %I SET lock_timeout = %L', current_database(), '10s');
    EXECUTE format('ALTER ROLE trading_worker_user IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '120s');
END $$;

-- Audit rows are appended with their content only; the chain columns are the relay's.
REVOKE INSERT ON audit_log FROM trading_app_user, trading_worker_user, trading_admin_user;
GRANT INSERT (actor_id, action, entity, entity_id, detail) ON audit_log
    TO trading_app_user, trading_worker_user, trading_admin_user;
