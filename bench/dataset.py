"""A history of N realistic signals over the last 12 months, loaded with COPY in minutes, for the reads.

Signals over 50 symbols, both sides, three tiers, admin and three strategies, confidence 40-95,
one-hour to one-day timeframes, a small payload, 90% settled (WIN, LOSS, EXPIRED, NOT_FILLED);
each with its key, its creation event and (when settled) its outcome event in the outbox, one
audit row per 1,000 signals (as batches write them), 1,000 traders with 200 journal entries each
and one heavy trader with 20,000. Loaded as the owner with triggers and foreign-key checks off
(session_replication_role = replica; the data is consistent by construction), then the roll-up
is computed from what was loaded, the audit rows chained, and the tables analysed and vacuumed.
"""

import hashlib
import io
import random
import time
from datetime import UTC, datetime, timedelta

import psycopg2

from journal.config import DEFAULT_SYMBOLS

CHUNK = 100_000
SYMBOLS = DEFAULT_SYMBOLS.split(",")
STRATEGIES = ("trend", "mean_reversion", "breakout")
TIERS = ("low", "medium", "high")
OUTCOMES = ("WIN", "WIN", "LOSS", "LOSS", "EXPIRED", "NOT_FILLED")
TIMEFRAMES = ("1h", "4h", "1d")
TRADERS, ENTRIES, HEAVY_ENTRIES = 1_000, 200, 20_000
SIGNAL_COLUMNS = (
    "id, created_at, created_by, expires_at, outcome_at, confidence, symbol, side, entry_price, stop_loss, "
    "take_profit, risk_tier, grade, timeframe, source, strategy, payload, status, outcome, outcome_price"
)


def signal_rows(first: int, last: int, total: int, start: datetime, span: float, admin: int):
    """Text COPY lines of signals first..last-1 (ids), their keys and their outbox events."""
    rng = random.Random(first)
    signals, keys, events = io.StringIO(), io.StringIO(), io.StringIO()
    for pk in range(first, last):
        created = start + timedelta(seconds=span * pk / total)
        side = "buy" if pk % 2 else "sell"
        entry = round(rng.uniform(1, 70_000), 2)
        step = entry * rng.uniform(0.005, 0.05)
        stop, target = (entry - step, entry + 2 * step) if side == "buy" else (entry + step, entry - 2 * step)
        tier, confidence = TIERS[pk % 3], rng.randint(40, 95)
        strategy = "\\N" if pk % 4 == 0 else STRATEGIES[pk % 3]
        source = "admin" if pk % 4 == 0 else "engine"
        expires = created + timedelta(days=2)
        settled = expires < datetime.now(UTC)  # the outcome checker settles every expired signal
        outcome = (OUTCOMES[pk % len(OUTCOMES)] if pk % 10 else "EXPIRED") if settled else "\\N"
        outcome_at = (created + timedelta(hours=rng.randint(1, 40))).isoformat() if settled else "\\N"
        outcome_price = f"{target if outcome == 'WIN' else stop:.4f}" if settled else "\\N"
        payload = f'{{"n": {pk}, "rsi": {rng.uniform(10, 90):.1f}, "reason": "bench history"}}'
        grade = "A" if confidence >= 85 else "B" if confidence >= 70 else "C" if confidence >= 55 else "D"
        status = "closed" if settled else "active"
        creator = str(admin) if source == "admin" else "\\N"
        signals.write(
            f"{pk}\t{created.isoformat()}\t{creator}\t{expires.isoformat()}\t"
            f"{outcome_at}\t{confidence}\t{SYMBOLS[pk % len(SYMBOLS)]}\t{side}\t{entry:.4f}\t{stop:.4f}\t"
            f"{target:.4f}\t{tier}\t{grade}\t{TIMEFRAMES[pk % 3]}\t{source}\t{strategy}\t{payload}\t"
            f"{status}\t{outcome}\t{outcome_price}\n"
        )
        digest = hashlib.sha256(b"bench:%d" % pk).hexdigest()[:32]
        keys.write(f"\\\\x{digest}\t{pk}\t{created.isoformat()}\n")
        at = created.isoformat()
        events.write(f"{2 * pk - 1}\t{pk}\t{at}\t{at}\t{at}\tsignal\t{tier}\t{2 * pk - 1}\n")
        if settled:
            events.write(f"{2 * pk}\t{pk}\t{at}\t{outcome_at}\t{outcome_at}\toutcome\t{tier}\t{2 * pk}\n")
    return signals, keys, events


def load(owner_url: str, total: int, log=print) -> dict:  # noqa: ANN001 - a print-like function
    """Load `total` signals into a migrated, empty database; returns what was loaded and how long."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    span = (now - timedelta(minutes=10) - start).total_seconds()
    conn = psycopg2.connect(owner_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT create_month_partitions(3, %s)", (start.date(),))
        cur.execute(
            "INSERT INTO users (email, password_hash, role, risk_tier) "
            "VALUES ('history-admin@bench.example', '-', 'admin', 'high') ON CONFLICT DO NOTHING"
        )
        cur.execute("SELECT id FROM users WHERE email = 'history-admin@bench.example'")
        admin = cur.fetchone()[0]
    with conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        for first in range(1, total + 1, CHUNK):
            last = min(first + CHUNK, total + 1)
            signals, keys, events = signal_rows(first, last, total, start, span, admin)
            for data, copy in (
                (signals, f"COPY signals ({SIGNAL_COLUMNS}) FROM STDIN"),
                (keys, "COPY signal_keys (key_hash, signal_pk, signal_created_at) FROM STDIN"),
                (events, "COPY outbox (id, signal_pk, signal_created_at, created_at, sequenced_at, kind, "
                 "signal_tier, seq) FROM STDIN"),
            ):  # fmt: skip
                data.seek(0)
                cur.copy_expert(copy, data)
            conn.commit()
            if (last - 1) % 1_000_000 == 0:
                log(f"history: {last - 1:,} signals loaded ({time.perf_counter() - started:.0f} s)")
        finish(cur, admin, total)
    loaded = {"signals": total, "seconds": time.perf_counter() - started}
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in ("signals", "outbox", "signal_keys", "user_signals", "audit_log"):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    conn.close()
    loaded["seconds_with_vacuum"] = time.perf_counter() - started
    return loaded


def finish(cur, admin: int, total: int) -> None:  # noqa: ANN001 - a psycopg2 cursor
    """Sequences, positions, the roll-up, journals and the audit rows of what was loaded."""
    cur.execute("SELECT setval('signals_id_seq', %s), setval('outbox_id_seq', %s)", (total, 2 * total))
    cur.execute("UPDATE relay_state SET emitted_upto = (SELECT max(seq) FROM outbox)")
    cur.execute(
        "INSERT INTO stream_rooms (room, last_seq) SELECT 'tier:' || m.user_tier, max(o.seq) FROM outbox o "
        "JOIN signal_risk_map m ON m.signal_tier = o.signal_tier GROUP BY m.user_tier "
        "ON CONFLICT (room) DO UPDATE SET last_seq = EXCLUDED.last_seq"
    )
    cur.execute(
        "INSERT INTO signal_stats (day, risk_tier, strategy, symbol, bucket, total, wins, losses, expired, "
        "ambiguous, data_gap, not_filled) SELECT (created_at AT TIME ZONE 'UTC')::date, risk_tier, "
        "coalesce(strategy, source), symbol, least(confidence / 10 * 10, 90), count(*), "
        "count(*) FILTER (WHERE outcome = 'WIN'), count(*) FILTER (WHERE outcome = 'LOSS'), "
        "count(*) FILTER (WHERE outcome = 'EXPIRED'), 0, 0, count(*) FILTER (WHERE outcome = 'NOT_FILLED') "
        "FROM signals GROUP BY 1, 2, 3, 4, 5"
    )
    cur.execute(
        "INSERT INTO users (email, password_hash, risk_tier) SELECT 'history' || i || '@bench.example', '-', "
        "(ARRAY['low','medium','high'])[1 + i %% 3] FROM generate_series(0, %s) i ON CONFLICT DO NOTHING",
        (TRADERS,),
    )
    # each trader takes ENTRIES signals spread over the year, the heavy one (i = 0) HEAVY_ENTRIES
    cur.execute(
        "INSERT INTO user_signals (user_id, signal_pk, signal_created_at, taken_at, notes) "
        "SELECT u.id, s.id, s.created_at, s.created_at + interval '5 minutes', "
        "CASE WHEN s.id %% 3 = 0 THEN 'bench note' END FROM users u "
        "CROSS JOIN LATERAL generate_series(1, "
        "CASE WHEN u.email = 'history0@bench.example' THEN %s ELSE %s END) g "
        "JOIN signals s ON s.id = 1 + (abs(hashtext(u.id || ':' || g)) %% %s) "
        "WHERE u.email LIKE 'history%%@bench.example' AND u.role = 'user' "
        "ON CONFLICT DO NOTHING",
        (HEAVY_ENTRIES, ENTRIES, total),
    )
    cur.execute(
        "INSERT INTO signal_totals SELECT risk_tier, strategy, symbol, bucket, sum(total), sum(wins), "
        "sum(losses), sum(expired), sum(ambiguous), sum(data_gap), sum(not_filled) FROM signal_stats "
        "GROUP BY 1, 2, 3, 4"
    )
    cur.execute(
        "UPDATE stream_rooms r SET received = (SELECT count(*) FROM outbox o JOIN signal_risk_map m "
        "ON m.signal_tier = o.signal_tier WHERE o.kind = 'signal' AND 'tier:' || m.user_tier = r.room)"
    )
    cur.execute(
        "INSERT INTO user_stats (user_id, taken, journaled, settled, wins, losses, not_filled) "
        "SELECT us.user_id, count(*), count(us.notes), count(s.outcome), "
        "count(*) FILTER (WHERE s.outcome = 'WIN'), count(*) FILTER (WHERE s.outcome = 'LOSS'), "
        "count(*) FILTER (WHERE s.outcome = 'NOT_FILLED') "
        "FROM user_signals us JOIN signals s ON s.id = us.signal_pk AND s.created_at = us.signal_created_at "
        "GROUP BY us.user_id"
    )
    cur.execute(
        "INSERT INTO audit_log (actor_id, action, entity, entity_id, detail, created_at) "
        "SELECT %s, 'signal.create', 'signal', '1000 signals', "
        "jsonb_build_object('source', 'bench', 'first', b), now() FROM generate_series(1, %s, 1000) b",
        (admin, total),
    )
    cur.execute("SET session_replication_role = DEFAULT")
    while cur.execute("SELECT chain_audit_log(100000)") or cur.fetchone()[0]:
        pass
