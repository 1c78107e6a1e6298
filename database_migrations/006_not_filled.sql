-- NOT_FILLED: a signal whose entry was never touched before it expired. It is an outcome like the
-- others (recorded once, counted in the roll-up) but no trade, so statistics keep it out of win rates.

-- The new list is a superset of the old one, so every stored row still passes the check.
ALTER TABLE signals DROP CONSTRAINT signals_outcome_check;
ALTER TABLE signals ADD CONSTRAINT signals_outcome_check
    CHECK (outcome IN ('WIN', 'LOSS', 'EXPIRED', 'AMBIGUOUS', 'DATA_GAP', 'NOT_FILLED'));

ALTER TABLE signal_stats ADD COLUMN not_filled bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION signal_stats_outcome() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    IF OLD.outcome IS NULL AND NEW.outcome IS NOT NULL THEN
        INSERT INTO signal_stats AS t (day, risk_tier, strategy, symbol, bucket,
                                       wins, losses, expired, ambiguous, data_gap, not_filled)
        VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.risk_tier, coalesce(NEW.strategy, NEW.source),
                NEW.symbol, least(NEW.confidence / 10 * 10, 90),
                (NEW.outcome = 'WIN')::int, (NEW.outcome = 'LOSS')::int, (NEW.outcome = 'EXPIRED')::int,
                (NEW.outcome = 'AMBIGUOUS')::int, (NEW.outcome = 'DATA_GAP')::int,
                (NEW.outcome = 'NOT_FILLED')::int)
        ON CONFLICT (day, risk_tier, strategy, symbol, bucket) DO UPDATE SET
            wins = t.wins + EXCLUDED.wins, losses = t.losses + EXCLUDED.losses,
            expired = t.expired + EXCLUDED.expired, ambiguous = t.ambiguous + EXCLUDED.ambiguous,
            data_gap = t.data_gap + EXCLUDED.data_gap, not_filled = t.not_filled + EXCLUDED.not_filled;
    END IF;
    RETURN NULL;
END $$;

-- No NOT_FILLED outcome existed before this migration, so the new column's 0 is already exact.
