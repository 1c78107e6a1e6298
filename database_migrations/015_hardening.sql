-- Two limits on what an application role can do through the objects it is allowed to use:
-- 1. create_month_partitions takes a first month only from the owner (migrations, the benchmark's
--    loader): beat's role may make this month's partitions and the next ones, never hundreds of
--    past months that every query without a time range would then have to visit.
-- 2. A user's state on a signal moves forward only: once taken or noted, a row is never taken
--    back (taken_at, notes and journaled_at never return to NULL, taken_at never changes), so
--    nothing can count a take twice in user_stats by clearing it and setting it again.

CREATE OR REPLACE FUNCTION create_month_partitions(months_ahead int, first date DEFAULT NULL) RETURNS int
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
    IF first IS NOT NULL AND session_user IN ('trading_app_user', 'trading_worker_user', 'trading_admin_user') THEN
        RAISE EXCEPTION 'only the owner chooses the first month' USING ERRCODE = 'insufficient_privilege';
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

CREATE FUNCTION user_signals_forward() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF (OLD.taken_at IS NOT NULL AND NEW.taken_at IS DISTINCT FROM OLD.taken_at)
       OR (OLD.notes IS NOT NULL AND NEW.notes IS NULL)
       OR (OLD.journaled_at IS NOT NULL AND NEW.journaled_at IS NULL) THEN
        RAISE EXCEPTION 'a taken or noted signal stays so' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION user_signals_forward() FROM PUBLIC;
CREATE TRIGGER user_signals_forward BEFORE UPDATE OF taken_at, notes, journaled_at ON user_signals
    FOR EACH ROW EXECUTE FUNCTION user_signals_forward();
