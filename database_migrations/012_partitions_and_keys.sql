-- Signals at the persistence notes' scale: monthly partitions, one key per signal, a narrower log.
--
-- 1. signals and user_signals are range-partitioned by month (user_signals by its signal's month,
--    so a user's state lives beside the signal and joins prune to one partition). Partitions are
--    made ahead by create_month_partitions(), which beat calls daily as the worker role. The keys
--    of a partitioned table include its partition key: signals (id, created_at), and every row
--    pointing at a signal carries the signal's created_at (outbox, user_signals).
-- 2. signal_keys holds each signal's one dedup identity, unique across every partition: the
--    client's Idempotency-Key or a strategy's key when given, else the signal's canonical content
--    hash (journal/stream/keys.py), as the first 16 bytes of a SHA-256.
-- 3. Nothing rewrites a signal to sequence it: the stream position of a signal is its outbox row's
--    seq (signals.stream_seq goes), and emission is one watermark (relay_state.emitted_upto: every
--    event up to it was published) instead of a second update of every outbox row. The outbox
--    keeps no per-room plan: the previous event of a room is the one before it in the log.
-- 4. No application role may set a signal's created_at (the database stamps it: no backdating);
--    they insert its id, taken from its key's row.
-- 5. BRIN on time; the B-tree indexes the queries need, per partition.

-- The old tables go aside while the new ones are built and filled.
ALTER TABLE outbox DROP CONSTRAINT outbox_signal_id_fkey;
ALTER TABLE user_signals RENAME TO user_signals_unpartitioned;
ALTER TABLE signals RENAME TO signals_unpartitioned;
ALTER TABLE signals_unpartitioned RENAME CONSTRAINT signals_pkey TO signals_unpartitioned_pkey;
ALTER TABLE user_signals_unpartitioned RENAME CONSTRAINT user_signals_pkey TO user_signals_unpartitioned_pkey;
DO $$  -- the old tables' checks and foreign keys go, so the new ones keep their names
DECLARE c record;
BEGIN
    FOR c IN SELECT conrelid::regclass AS rel, conname FROM pg_constraint
             WHERE conrelid IN ('public.signals_unpartitioned'::regclass, 'public.user_signals_unpartitioned'::regclass)
               AND contype IN ('c', 'f') LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.rel, c.conname);
    END LOOP;
END $$;

CREATE TABLE signals (
    id            bigint NOT NULL DEFAULT nextval('signals_id_seq'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    signal_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    created_by    bigint REFERENCES users (id),
    expires_at    timestamptz,
    outcome_at    timestamptz,
    confidence    smallint NOT NULL DEFAULT 50 CHECK (confidence BETWEEN 0 AND 100),
    symbol        text NOT NULL CHECK (symbol ~ '^[A-Z0-9._/-]{1,20}$'),
    side          text NOT NULL CHECK (side IN ('buy', 'sell')),
    entry_price   numeric(24, 10) NOT NULL CHECK (entry_price > 0),
    stop_loss     numeric(24, 10) NOT NULL CHECK (stop_loss > 0),
    take_profit   numeric(24, 10) NOT NULL CHECK (take_profit > 0),
    risk_tier     text NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high')),
    grade         text NOT NULL DEFAULT 'C' CHECK (grade IN ('A', 'B', 'C', 'D')),
    timeframe     text NOT NULL DEFAULT '1h',
    source        text NOT NULL DEFAULT 'admin',
    strategy      text,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'closed')),
    outcome       text CHECK (outcome IN ('WIN', 'LOSS', 'EXPIRED', 'AMBIGUOUS', 'DATA_GAP', 'NOT_FILLED')),
    outcome_price numeric(24, 10),
    dedup_key     text,  -- the client's or strategy's key; NULL when the content hash is the key
    CONSTRAINT signals_price_order CHECK (
        (side = 'buy' AND stop_loss < entry_price AND entry_price < take_profit)
        OR (side = 'sell' AND take_profit < entry_price AND entry_price < stop_loss)
    ),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE signals_id_seq OWNED BY signals.id;

CREATE TABLE user_signals (
    id                bigint NOT NULL DEFAULT nextval('user_signals_id_seq'),
    signal_created_at timestamptz NOT NULL,
    user_id           bigint NOT NULL REFERENCES users (id),
    signal_pk         bigint NOT NULL,
    delivered_at      timestamptz,
    taken_at          timestamptz,
    journaled_at      timestamptz,
    notes             text,
    PRIMARY KEY (id, signal_created_at),
    UNIQUE (user_id, signal_pk, signal_created_at),
    FOREIGN KEY (signal_pk, signal_created_at) REFERENCES signals (id, created_at)
) PARTITION BY RANGE (signal_created_at);
ALTER SEQUENCE user_signals_id_seq OWNED BY user_signals.id;

-- One partition a month of each table, from `first` to `months_ahead` months after this one.
-- SECURITY DEFINER so that beat's role, which may create nothing, can add partitions; it takes
-- only dates and names each partition from its month, and searches pg_temp last.
CREATE FUNCTION create_month_partitions(months_ahead int, first date DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    month date := date_trunc('month', coalesce(first, (now() AT TIME ZONE 'UTC')::date))::date;
    last date := date_trunc('month', (now() AT TIME ZONE 'UTC')::date)::date + make_interval(months => months_ahead);
    parent text;
    name text;
    made int := 0;
BEGIN
    IF months_ahead NOT BETWEEN 0 AND 36 THEN
        RAISE EXCEPTION 'months_ahead must be from 0 to 36' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WHILE month <= last LOOP
        FOREACH parent IN ARRAY ARRAY['signals', 'user_signals'] LOOP
            name := parent || '_' || to_char(month, 'YYYY_MM');
            IF to_regclass('public.' || name) IS NULL THEN
                EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                               name, parent, month::timestamp AT TIME ZONE 'UTC',
                               (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                IF parent = 'signals' THEN  -- TRUNCATE of a partition does not fire the parent's trigger
                    EXECUTE format('CREATE TRIGGER signals_guard_truncate BEFORE TRUNCATE ON public.%I '
                                   'FOR EACH STATEMENT EXECUTE FUNCTION public.signals_guard()', name);
                END IF;
                made := made + 1;
            END IF;
        END LOOP;
        month := month + interval '1 month';
    END LOOP;
    RETURN made;
END $$;
REVOKE EXECUTE ON FUNCTION create_month_partitions(int, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION create_month_partitions(int, date) TO trading_worker_user;

-- From the oldest stored signal's month (and at least last month) to three months ahead.
SELECT create_month_partitions(3, (least((SELECT min(created_at) FROM signals_unpartitioned), now() - interval '1 month') AT TIME ZONE 'UTC')::date);

INSERT INTO signals (id, created_at, signal_id, created_by, expires_at, outcome_at, confidence, symbol, side,
                     entry_price, stop_loss, take_profit, risk_tier, grade, timeframe, source, strategy,
                     payload, status, outcome, outcome_price, dedup_key)
SELECT id, created_at, signal_id, created_by, expires_at, outcome_at, confidence, symbol, side, entry_price,
       stop_loss, take_profit, risk_tier, grade, timeframe, source, strategy, payload, status, outcome,
       outcome_price, CASE WHEN dedup_key LIKE 'uuid:%' THEN NULL ELSE dedup_key END
FROM signals_unpartitioned;

INSERT INTO user_signals (id, signal_created_at, user_id, signal_pk, delivered_at, taken_at, journaled_at, notes)
SELECT us.id, s.created_at, us.user_id, us.signal_pk, us.delivered_at, us.taken_at, us.journaled_at, us.notes
FROM user_signals_unpartitioned us JOIN signals_unpartitioned s ON s.id = us.signal_pk;

-- Each signal's one key, unique over every partition.
CREATE TABLE signal_keys (
    key_hash          bytea PRIMARY KEY CHECK (length(key_hash) = 16),
    signal_pk         bigint NOT NULL DEFAULT nextval('signals_id_seq'),
    signal_created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO signal_keys (key_hash, signal_pk, signal_created_at)
SELECT substring(sha256(convert_to(dedup_key, 'UTF8')) FROM 1 FOR 16), id, created_at FROM signals_unpartitioned;

-- The outbox points at a signal by (id, created_at), has no per-room plan and no per-row mark.
ALTER TABLE outbox ADD COLUMN signal_created_at timestamptz;
UPDATE outbox o SET signal_created_at = s.created_at FROM signals_unpartitioned s WHERE s.id = o.signal_pk;
ALTER TABLE outbox ALTER COLUMN signal_created_at SET NOT NULL;
ALTER TABLE outbox ADD FOREIGN KEY (signal_pk, signal_created_at) REFERENCES signals (id, created_at);

CREATE TABLE relay_state (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    emitted_upto bigint NOT NULL  -- every event with seq at or below it was published
);
INSERT INTO relay_state (emitted_upto)
SELECT coalesce((SELECT min(seq) - 1 FROM outbox WHERE seq IS NOT NULL AND emitted_at IS NULL),
                (SELECT max(seq) FROM outbox), 0);
ALTER TABLE outbox DROP COLUMN emitted_at;
ALTER TABLE outbox DROP COLUMN rooms;
DROP INDEX outbox_tier_seq_idx;  -- catch-up walks the seq index forward and filters the tiers

DROP TABLE user_signals_unpartitioned;
DROP TABLE signals_unpartitioned;

-- Indexes, created on the parents and so on every partition, present and future.
CREATE INDEX signals_signal_id_idx ON signals (signal_id);
CREATE INDEX signals_created_brin ON signals USING brin (created_at);
CREATE INDEX signals_open_idx ON signals (symbol, side) WHERE outcome IS NULL AND status = 'active';
CREATE INDEX user_signals_journal_idx ON user_signals (user_id, id) WHERE taken_at IS NOT NULL OR notes IS NOT NULL;

-- Immutability and the outcome roll-up, on the partitioned table (row triggers reach every partition).
CREATE TRIGGER signals_guard_row BEFORE UPDATE OR DELETE ON signals FOR EACH ROW EXECUTE FUNCTION signals_guard();
CREATE TRIGGER signals_guard_truncate BEFORE TRUNCATE ON signals FOR EACH STATEMENT EXECUTE FUNCTION signals_guard();
CREATE TRIGGER signal_stats_outcome AFTER UPDATE OF outcome ON signals FOR EACH ROW EXECUTE FUNCTION signal_stats_outcome();

CREATE OR REPLACE FUNCTION signals_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
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
    IF OLD.outcome IS NOT NULL AND (NEW.outcome, NEW.outcome_price, NEW.outcome_at)
       IS DISTINCT FROM (OLD.outcome, OLD.outcome_price, OLD.outcome_at) THEN
        RAISE EXCEPTION 'a signal''s outcome is recorded once' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

REVOKE EXECUTE ON FUNCTION signals_guard() FROM PUBLIC;

-- The outbox check of migration 010, once per statement over all its rows (bulk ingest writes
-- thousands in one), refusing instead of rewriting: an event's tier is its signal's, and an
-- outcome event needs a stored outcome.
DROP TRIGGER outbox_event_of_signal ON outbox;
DROP FUNCTION outbox_event_of_signal();
CREATE FUNCTION outbox_events_of_signals() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_events e LEFT JOIN public.signals s
               ON s.id = e.signal_pk AND s.created_at = e.signal_created_at
               WHERE s.id IS NULL OR e.signal_tier IS DISTINCT FROM s.risk_tier
                  OR (e.kind = 'outcome' AND s.outcome IS NULL)) THEN
        RAISE EXCEPTION 'outbox: an event must carry its signal''s tier, and an outcome event a stored outcome'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION outbox_events_of_signals() FROM PUBLIC;
CREATE TRIGGER outbox_events_of_signals AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_of_signals();

-- Grants on the new tables (partitions are reached through their parents only).
GRANT SELECT ON signals, user_signals, signal_keys, relay_state TO trading_app_user, trading_worker_user, trading_admin_user;
GRANT INSERT (id, symbol, side, entry_price, stop_loss, take_profit, risk_tier, confidence, grade,
              timeframe, source, strategy, payload, expires_at, created_by, dedup_key)
    ON signals TO trading_app_user, trading_worker_user;
GRANT INSERT (key_hash) ON signal_keys TO trading_app_user, trading_worker_user;
GRANT UPDATE (status) ON signals TO trading_admin_user;
GRANT UPDATE (outcome, outcome_price, outcome_at) ON signals TO trading_worker_user, trading_admin_user;
GRANT INSERT ON user_signals TO trading_app_user, trading_worker_user;
GRANT UPDATE (taken_at, journaled_at, notes) ON user_signals TO trading_app_user;
GRANT UPDATE (delivered_at) ON user_signals TO trading_worker_user;
GRANT INSERT (signal_created_at) ON outbox TO trading_app_user, trading_worker_user, trading_admin_user;
GRANT UPDATE (emitted_upto) ON relay_state TO trading_worker_user;
