-- Statistics roll-up. The relay adds each signal to `total` as it sequences it (it is serialized,
-- so writers never wait on these rows); a trigger adds each outcome in the outcome's transaction.
CREATE TABLE signal_stats (
    day        date NOT NULL,
    risk_tier  text NOT NULL,
    strategy   text NOT NULL,
    symbol     text NOT NULL,
    bucket     smallint NOT NULL,  -- confidence rounded down to a multiple of 10 (100 -> 90)
    total      bigint NOT NULL DEFAULT 0,
    wins       bigint NOT NULL DEFAULT 0,
    losses     bigint NOT NULL DEFAULT 0,
    expired    bigint NOT NULL DEFAULT 0,
    ambiguous  bigint NOT NULL DEFAULT 0,
    data_gap   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, risk_tier, strategy, symbol, bucket)
);

CREATE FUNCTION signal_stats_outcome() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
    IF OLD.outcome IS NULL AND NEW.outcome IS NOT NULL THEN
        INSERT INTO signal_stats AS t (day, risk_tier, strategy, symbol, bucket,
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
CREATE TRIGGER signal_stats_outcome AFTER UPDATE OF outcome ON signals
    FOR EACH ROW EXECUTE FUNCTION signal_stats_outcome();

-- Backfill from what exists (totals of sequenced signals, every outcome).
INSERT INTO signal_stats (day, risk_tier, strategy, symbol, bucket, total, wins, losses, expired, ambiguous, data_gap)
SELECT (created_at AT TIME ZONE 'UTC')::date, risk_tier, coalesce(strategy, source), symbol,
       least(confidence / 10 * 10, 90), count(stream_seq),
       count(*) FILTER (WHERE outcome = 'WIN'), count(*) FILTER (WHERE outcome = 'LOSS'),
       count(*) FILTER (WHERE outcome = 'EXPIRED'), count(*) FILTER (WHERE outcome = 'AMBIGUOUS'),
       count(*) FILTER (WHERE outcome = 'DATA_GAP')
FROM signals GROUP BY 1, 2, 3, 4, 5;

CREATE INDEX signals_created_at_idx ON signals (created_at);
CREATE INDEX signals_open_engine_idx ON signals (symbol, side) WHERE outcome IS NULL AND status = 'active';

GRANT SELECT ON signal_stats TO trading_app_user, trading_worker_user, trading_admin_user;
GRANT INSERT, UPDATE (total) ON signal_stats TO trading_worker_user;
