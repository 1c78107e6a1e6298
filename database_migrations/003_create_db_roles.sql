-- Least-privilege roles. None may DELETE or TRUNCATE; none may change a signal's immutable columns.
-- Passwords are set by `journal migrate` from DB_APP_PASSWORD, DB_WORKER_PASSWORD, DB_ADMIN_PASSWORD.
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['trading_app_user', 'trading_worker_user', 'trading_admin_user'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r);
        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', r);
        EXECUTE format('GRANT SELECT ON users, signals, signal_risk_map, user_signals, audit_log TO %I', r);
        EXECUTE format('GRANT INSERT ON audit_log TO %I', r);
    END LOOP;
END $$;

-- The web app: writes signals (with their outbox row) and users' own state.
GRANT INSERT ON signals, outbox, user_signals TO trading_app_user;
GRANT SELECT ON outbox TO trading_app_user;
GRANT INSERT, UPDATE (password_hash, risk_tier, plan) ON users TO trading_app_user;
GRANT UPDATE (taken_at, journaled_at, notes) ON user_signals TO trading_app_user;

-- Celery: generated signals, outcomes, the relay's sequencing and delivery receipts.
GRANT INSERT ON signals, outbox, user_signals TO trading_worker_user;
GRANT UPDATE (outcome, outcome_price, outcome_at, stream_seq) ON signals TO trading_worker_user;
GRANT SELECT, UPDATE (sequenced_at, rooms, emitted_at) ON outbox TO trading_worker_user;
GRANT SELECT, INSERT, UPDATE (last_seq) ON stream_rooms TO trading_worker_user;
GRANT UPDATE (delivered_at) ON user_signals TO trading_worker_user;

-- Admin actions: archive (a status change) and manual settlement; still no DELETE.
GRANT UPDATE (status, outcome, outcome_price, outcome_at) ON signals TO trading_admin_user;
GRANT INSERT, UPDATE (risk_tier, plan, role) ON users TO trading_admin_user;
