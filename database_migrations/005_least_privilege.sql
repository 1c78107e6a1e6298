-- Least privilege that holds against a role that tries to get around it.
--
-- 1. SECURITY DEFINER functions search pg_temp last. PostgreSQL searches the session's temporary
--    schema first for tables unless pg_temp is listed explicitly, so a role's temporary view named
--    audit_log would otherwise run its code as the function's owner. The bodies name their tables
--    with the schema as well.
-- 2. Application roles cannot create anything: no TEMP on the database, no CREATE on public.
-- 3. The web role reads users but cannot create or change them (role, tier, plan are the admin
--    role's, through an audited admin action); signals are inserted only with the columns a request
--    may set (never stream_seq, status or outcome columns).
-- 4. users.disabled and users.tokens_valid_after: disabling a user or changing their role ends
--    every token issued before, even if Redis forgets the session.

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_log_chain'));
    NEW.chain_pos := nextval('public.audit_log_chain_seq');
    -- every earlier holder of the lock has committed, so the highest position is the chain's end
    SELECT a.hash INTO NEW.prev_hash FROM public.audit_log a ORDER BY a.chain_pos DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, '');
    NEW.hash := encode(sha256(convert_to(concat_ws('|', NEW.prev_hash, NEW.actor_id, NEW.action,
        NEW.entity, NEW.entity_id, NEW.detail::text, NEW.created_at::text), 'UTF8')), 'hex');
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION signal_stats_outcome() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    IF OLD.outcome IS NULL AND NEW.outcome IS NOT NULL THEN
        INSERT INTO public.signal_stats AS t (day, risk_tier, strategy, symbol, bucket,
                                              wins, losses, expired, ambiguous, data_gap)
        VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.risk_tier, coalesce(NEW.strategy, NEW.source),
                NEW.symbol, least(NEW.confidence / 10 * 10, 90),
                (NEW.outcome = 'WIN')::int, (NEW.outcome = 'LOSS')::int, (NEW.outcome = 'EXPIRED')::int,
                (NEW.outcome = 'AMBIGUOUS')::int, (NEW.outcome = 'DATA_GAP')::int)
        ON CONFLICT (day, risk_tier, strategy, symbol, bucket) DO UPDATE SET
            wins = t.wins + EXCLUDED.wins, losses = t.losses + EXCLUDED.losses,
            expired = t.expired + EXCLUDED.expired, ambiguous = t.ambiguous + EXCLUDED.ambiguous,
            data_gap = t.data_gap + EXCLUDED.data_gap;
    END IF;
    RETURN NULL;
END $$;

REVOKE EXECUTE ON FUNCTION audit_log_chain(), signal_stats_outcome(), signals_guard() FROM PUBLIC;

DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM trading_app_user, trading_worker_user, '
                   'trading_admin_user', current_database());
END $$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM trading_app_user, trading_worker_user, trading_admin_user;

ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;  -- NULL: no cut-off

REVOKE INSERT, UPDATE ON users FROM trading_app_user;
REVOKE INSERT, UPDATE ON users FROM trading_admin_user;
GRANT INSERT (email, password_hash, role, risk_tier, plan) ON users TO trading_admin_user;
GRANT UPDATE (risk_tier, plan, role, disabled, tokens_valid_after) ON users TO trading_admin_user;

REVOKE INSERT ON signals FROM trading_app_user, trading_worker_user;
GRANT INSERT (symbol, side, entry_price, stop_loss, take_profit, risk_tier, confidence, grade, timeframe,
              source, strategy, payload, expires_at, created_by, dedup_key)
    ON signals TO trading_app_user, trading_worker_user;
