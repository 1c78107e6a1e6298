-- Statistics that stay cheap at ten million signals: roll-ups small enough to read in full.
--
-- 1. signal_totals: signal_stats without the day (tier x strategy x symbol x confidence bucket, a
--    few thousand rows, where signal_stats holds up to a million a year): the hub's breakdowns
--    read it every second. The relay adds each signal to both as it sequences it; the outcome
--    trigger adds each outcome to both.
-- 2. stream_rooms.received: how many signals each tier room has been sent (the relay counts them
--    as it sequences), so a user's "received" is one row.
-- 3. user_stats: each user's taken, journaled, settled, wins, losses and not-filled counts among
--    the signals they took, kept by triggers on user_signals and on a signal's outcome. A take
--    locks its signal's row FOR SHARE, and an outcome updates that row: whichever commits first,
--    the other sees it, so a take racing its signal's outcome is counted once, with its outcome.

CREATE TABLE signal_totals (
    risk_tier  text NOT NULL,
    strategy   text NOT NULL,
    symbol     text NOT NULL,
    bucket     smallint NOT NULL,
    total      bigint NOT NULL DEFAULT 0,
    wins       bigint NOT NULL DEFAULT 0,
    losses     bigint NOT NULL DEFAULT 0,
    expired    bigint NOT NULL DEFAULT 0,
    ambiguous  bigint NOT NULL DEFAULT 0,
    data_gap   bigint NOT NULL DEFAULT 0,
    not_filled bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (risk_tier, strategy, symbol, bucket)
);
INSERT INTO signal_totals SELECT risk_tier, strategy, symbol, bucket, sum(total), sum(wins), sum(losses),
    sum(expired), sum(ambiguous), sum(data_gap), sum(not_filled)
FROM signal_stats GROUP BY risk_tier, strategy, symbol, bucket;
GRANT SELECT ON signal_totals TO trading_app_user, trading_worker_user, trading_admin_user;
GRANT INSERT, UPDATE (total) ON signal_totals TO trading_worker_user;

ALTER TABLE stream_rooms ADD COLUMN received bigint NOT NULL DEFAULT 0;
UPDATE stream_rooms r SET received = (
    SELECT count(*) FROM outbox o JOIN signal_risk_map m ON m.signal_tier = o.signal_tier
    WHERE o.kind = 'signal' AND o.seq IS NOT NULL AND 'tier:' || m.user_tier = r.room);
GRANT UPDATE (received) ON stream_rooms TO trading_worker_user;

CREATE TABLE user_stats (
    user_id    bigint PRIMARY KEY REFERENCES users (id),
    taken      bigint NOT NULL DEFAULT 0,
    journaled  bigint NOT NULL DEFAULT 0,
    settled    bigint NOT NULL DEFAULT 0,  -- taken signals with any outcome (open = taken - settled)
    wins       bigint NOT NULL DEFAULT 0,
    losses     bigint NOT NULL DEFAULT 0,
    not_filled bigint NOT NULL DEFAULT 0
);
GRANT SELECT ON user_stats TO trading_app_user, trading_worker_user, trading_admin_user;
INSERT INTO user_stats (user_id, taken, journaled, settled, wins, losses, not_filled)
SELECT us.user_id, count(*) FILTER (WHERE us.taken_at IS NOT NULL), count(*) FILTER (WHERE us.notes IS NOT NULL),
       count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome IS NOT NULL),
       count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = 'WIN'),
       count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = 'LOSS'),
       count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = 'NOT_FILLED')
FROM user_signals us JOIN signals s ON s.id = us.signal_pk AND s.created_at = us.signal_created_at
GROUP BY us.user_id;
-- an outcome finds the signal's takers; a user's taken signals per day
CREATE INDEX user_signals_takers_idx ON user_signals (signal_pk) WHERE taken_at IS NOT NULL;
CREATE INDEX user_signals_taken_idx ON user_signals (user_id, taken_at) WHERE taken_at IS NOT NULL;

-- A user's row on a signal changed: count a first take (with the outcome already stored, if any)
-- and a first note. SECURITY DEFINER so that no application role may write user_stats itself.
CREATE FUNCTION user_stats_of_state() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    took boolean := NEW.taken_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.taken_at IS NULL);
    noted boolean := NEW.notes IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.notes IS NULL);
    result text;
BEGIN
    IF NOT (took OR noted) THEN
        RETURN NULL;
    END IF;
    IF took THEN
        SELECT s.outcome INTO result FROM public.signals s
        WHERE s.id = NEW.signal_pk AND s.created_at = NEW.signal_created_at FOR SHARE;
    END IF;
    INSERT INTO public.user_stats AS u (user_id, taken, journaled, settled, wins, losses, not_filled)
    VALUES (NEW.user_id, took::int, noted::int, (took AND result IS NOT NULL)::int,
            (took AND result IS NOT DISTINCT FROM 'WIN')::int, (took AND result IS NOT DISTINCT FROM 'LOSS')::int,
            (took AND result IS NOT DISTINCT FROM 'NOT_FILLED')::int)
    ON CONFLICT (user_id) DO UPDATE SET
        taken = u.taken + EXCLUDED.taken, journaled = u.journaled + EXCLUDED.journaled,
        settled = u.settled + EXCLUDED.settled, wins = u.wins + EXCLUDED.wins,
        losses = u.losses + EXCLUDED.losses, not_filled = u.not_filled + EXCLUDED.not_filled;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION user_stats_of_state() FROM PUBLIC;
CREATE TRIGGER user_stats_of_state AFTER INSERT OR UPDATE OF taken_at, notes ON user_signals
    FOR EACH ROW EXECUTE FUNCTION user_stats_of_state();

-- An outcome, once: into both roll-ups, and into the statistics of everyone who took the signal.
CREATE OR REPLACE FUNCTION signal_stats_outcome() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    signal_strategy text := coalesce(NEW.strategy, NEW.source);
    signal_bucket smallint := least(NEW.confidence / 10 * 10, 90);
BEGIN
    IF OLD.outcome IS NULL AND NEW.outcome IS NOT NULL THEN
        INSERT INTO public.signal_stats AS t (day, risk_tier, strategy, symbol, bucket,
                                              wins, losses, expired, ambiguous, data_gap, not_filled)
        VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.risk_tier, signal_strategy, NEW.symbol, signal_bucket,
                (NEW.outcome = 'WIN')::int, (NEW.outcome = 'LOSS')::int, (NEW.outcome = 'EXPIRED')::int,
                (NEW.outcome = 'AMBIGUOUS')::int, (NEW.outcome = 'DATA_GAP')::int,
                (NEW.outcome = 'NOT_FILLED')::int)
        ON CONFLICT (day, risk_tier, strategy, symbol, bucket) DO UPDATE SET
            wins = t.wins + EXCLUDED.wins, losses = t.losses + EXCLUDED.losses,
            expired = t.expired + EXCLUDED.expired, ambiguous = t.ambiguous + EXCLUDED.ambiguous,
            data_gap = t.data_gap + EXCLUDED.data_gap, not_filled = t.not_filled + EXCLUDED.not_filled;
        INSERT INTO public.signal_totals AS t (risk_tier, strategy, symbol, bucket,
                                               wins, losses, expired, ambiguous, data_gap, not_filled)
        VALUES (NEW.risk_tier, signal_strategy, NEW.symbol, signal_bucket,
                (NEW.outcome = 'WIN')::int, (NEW.outcome = 'LOSS')::int, (NEW.outcome = 'EXPIRED')::int,
                (NEW.outcome = 'AMBIGUOUS')::int, (NEW.outcome = 'DATA_GAP')::int,
                (NEW.outcome = 'NOT_FILLED')::int)
        ON CONFLICT (risk_tier, strategy, symbol, bucket) DO UPDATE SET
            wins = t.wins + EXCLUDED.wins, losses = t.losses + EXCLUDED.losses,
            expired = t.expired + EXCLUDED.expired, ambiguous = t.ambiguous + EXCLUDED.ambiguous,
            data_gap = t.data_gap + EXCLUDED.data_gap, not_filled = t.not_filled + EXCLUDED.not_filled;
        UPDATE public.user_stats u SET settled = u.settled + 1,
            wins = u.wins + (NEW.outcome = 'WIN')::int, losses = u.losses + (NEW.outcome = 'LOSS')::int,
            not_filled = u.not_filled + (NEW.outcome = 'NOT_FILLED')::int
        FROM public.user_signals us
        WHERE us.signal_pk = NEW.id AND us.signal_created_at = NEW.created_at AND us.taken_at IS NOT NULL
          AND u.user_id = us.user_id;
    END IF;
    RETURN NULL;
END $$;
