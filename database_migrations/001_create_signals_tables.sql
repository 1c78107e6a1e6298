-- Users, signals, per-user signal state, the outbox and the audit log.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    plan          text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'elite')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE signals (
    id            bigserial PRIMARY KEY,
    signal_id     uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    symbol        text NOT NULL CHECK (symbol ~ '^[A-Z0-9._/-]{1,20}$'),
    side          text NOT NULL CHECK (side IN ('buy', 'sell')),
    entry_price   numeric(24, 10) NOT NULL CHECK (entry_price > 0),
    stop_loss     numeric(24, 10) NOT NULL CHECK (stop_loss > 0),
    take_profit   numeric(24, 10) NOT NULL CHECK (take_profit > 0),
    risk_tier     text NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high')),
    confidence    smallint NOT NULL DEFAULT 50 CHECK (confidence BETWEEN 0 AND 100),
    grade         text NOT NULL DEFAULT 'C' CHECK (grade IN ('A', 'B', 'C', 'D')),
    timeframe     text NOT NULL DEFAULT '1h',
    source        text NOT NULL DEFAULT 'admin',
    strategy      text,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'closed')),
    outcome       text CHECK (outcome IN ('WIN', 'LOSS', 'EXPIRED', 'AMBIGUOUS', 'DATA_GAP')),
    outcome_price numeric(24, 10),
    outcome_at    timestamptz,
    expires_at    timestamptz,
    stream_seq    bigint UNIQUE,
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    dedup_key     text NOT NULL UNIQUE,
    CONSTRAINT signals_price_order CHECK (
        (side = 'buy' AND stop_loss < entry_price AND entry_price < take_profit)
        OR (side = 'sell' AND take_profit < entry_price AND entry_price < stop_loss)
    )
);
CREATE INDEX signals_created_idx ON signals (id DESC);
CREATE INDEX signals_tier_seq_idx ON signals (risk_tier, stream_seq) WHERE stream_seq IS NOT NULL;
CREATE INDEX signals_active_idx ON signals (symbol) WHERE outcome IS NULL AND status = 'active';

CREATE TABLE user_signals (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    signal_id    bigint NOT NULL REFERENCES signals (id),
    delivered_at timestamptz,
    taken_at     timestamptz,
    journaled_at timestamptz,
    notes        text,
    UNIQUE (user_id, signal_id)
);

-- The transactional outbox: one row per signal, written with it; the relay sequences and emits it.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    signal_id    bigint NOT NULL UNIQUE REFERENCES signals (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    sequenced_at timestamptz,
    rooms        jsonb,
    emitted_at   timestamptz
);
CREATE INDEX outbox_unsequenced_idx ON outbox (id) WHERE sequenced_at IS NULL;
CREATE INDEX outbox_unemitted_idx ON outbox (signal_id) WHERE sequenced_at IS NOT NULL AND emitted_at IS NULL;

-- The last sequence number emitted to each tier room; the relay keeps it under its lock.
CREATE TABLE stream_rooms (
    room     text PRIMARY KEY,
    last_seq bigint NOT NULL DEFAULT 0
);

-- Append-only and hash-chained: each row's hash covers its content and the previous row's hash.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    actor_id   bigint,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    chain_pos  bigint UNIQUE,  -- position in the chain: taken under the chain lock, so in lock order
    prev_hash  text NOT NULL DEFAULT '',
    hash       text NOT NULL DEFAULT ''
);
CREATE SEQUENCE audit_log_chain_seq;

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_log_chain'));
    NEW.chain_pos := nextval('audit_log_chain_seq');
    -- every earlier holder of the lock has committed, so the highest position is the chain's end
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY chain_pos DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, '');
    NEW.hash := encode(sha256(convert_to(concat_ws('|', NEW.prev_hash, NEW.actor_id, NEW.action,
        NEW.entity, NEW.entity_id, NEW.detail::text, NEW.created_at::text), 'UTF8')), 'hex');
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- Signals are immutable: only status, the outcome (once) and the stream position (once) change.
CREATE FUNCTION signals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'signals are immutable: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.signal_id, NEW.symbol, NEW.side, NEW.entry_price, NEW.stop_loss, NEW.take_profit,
        NEW.risk_tier, NEW.confidence, NEW.grade, NEW.timeframe, NEW.source, NEW.strategy, NEW.payload,
        NEW.expires_at, NEW.created_by, NEW.created_at, NEW.dedup_key)
       IS DISTINCT FROM
       (OLD.id, OLD.signal_id, OLD.symbol, OLD.side, OLD.entry_price, OLD.stop_loss, OLD.take_profit,
        OLD.risk_tier, OLD.confidence, OLD.grade, OLD.timeframe, OLD.source, OLD.strategy, OLD.payload,
        OLD.expires_at, OLD.created_by, OLD.created_at, OLD.dedup_key) THEN
        RAISE EXCEPTION 'signals are immutable' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.stream_seq IS NOT NULL AND NEW.stream_seq IS DISTINCT FROM OLD.stream_seq THEN
        RAISE EXCEPTION 'a signal''s stream_seq is set once' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.outcome IS NOT NULL AND (NEW.outcome, NEW.outcome_price, NEW.outcome_at)
       IS DISTINCT FROM (OLD.outcome, OLD.outcome_price, OLD.outcome_at) THEN
        RAISE EXCEPTION 'a signal''s outcome is recorded once' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER signals_guard_row BEFORE UPDATE OR DELETE ON signals FOR EACH ROW EXECUTE FUNCTION signals_guard();
CREATE TRIGGER signals_guard_truncate BEFORE TRUNCATE ON signals FOR EACH STATEMENT EXECUTE FUNCTION signals_guard();
