"""Settling signals: check active signals against 1m candles, incrementally, and record each outcome once.

Each signal resumes from its stored progress (journal/engine/progress.py), so a pass reads only
the candles that closed since that signal's last check, however old the signal is. Signals are
served most recent first within a candle budget per pass, and a signal far behind (a lost
progress, a long outage) catches up window by window over the next passes without holding back
the others on its symbol. Active signals are read in pages from a rotating cursor, so each one
gets its turn however many are open.
"""

import time
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from journal.engine import progress as stored
from journal.engine.evaluate import Levels, Outcome, Progress, advance, finish, tick
from journal.engine.market import Candle, Provider, as_decimal, provider
from journal.extensions import db, get_redis
from journal.models import signal_dict
from journal.stream import relay

CURSOR_KEY = "outcomes:cursor"
CHECK_BATCH = 1000  # active signals per pass
FETCH_CANDLES = 1000  # candles per provider request (the exchange's largest page)
PASS_CANDLES = 20_000  # candles read per pass, all signals together
TIMEFRAME = "1m"
ACTIVE_PAGE = text(
    "SELECT id, symbol, side, entry_price, stop_loss, take_profit, created_at, expires_at FROM signals "
    "WHERE outcome IS NULL AND status = 'active' AND id > :after ORDER BY id LIMIT :n"
)


SETTLE = text(
    "WITH s AS (UPDATE signals SET outcome = :result, outcome_price = :price, outcome_at = :at "
    "WHERE id = :id AND created_at = :created_at AND outcome IS NULL RETURNING *), "
    "o AS (INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
    "SELECT id, created_at, 'outcome', risk_tier FROM s) "
    "SELECT * FROM s"
)


def record_outcome(engine: Engine, signal_pk: int, created_at: datetime, outcome: Outcome) -> dict | None:
    """Store the outcome if none is stored yet (once), with its stream event in the same
    transaction (the relay emits signal:outcome); None if the signal was settled already."""
    with engine.begin() as conn:
        row = conn.execute(
            SETTLE,
            {
                "id": signal_pk,
                "created_at": created_at,
                "result": outcome.result,
                "price": as_decimal(outcome.price) if outcome.price is not None else None,
                "at": datetime.fromtimestamp(outcome.at, UTC),
            },
        ).first()
    if row is None:
        return None
    relay.nudge()
    return signal_dict(row)


def levels_of(row) -> Levels:
    return Levels(
        row.side,
        float(row.entry_price),
        float(row.stop_loss),
        float(row.take_profit),
        row.created_at.timestamp(),
        row.expires_at.timestamp() if row.expires_at else None,
    )


def resume_from(levels: Levels, progress: Progress) -> float:
    """Where the signal's next candles start: after the last consumed one, or the creation candle."""
    return progress.until if progress.until is not None else levels.created - 60


class CheckPass:
    """One pass's reads, shared by the signals of a symbol: candle windows, live prices, the budget."""

    def __init__(self, market: Provider, budget: int) -> None:
        self.market, self.budget, self.now = market, budget, time.time()
        self.windows: dict[tuple[str, float], list[Candle]] = {}
        self.live: dict[str, float | None] = {}

    def window(self, symbol: str, start: float) -> list[Candle] | None:
        """Candles from `start` (read once per pass); None when the budget is spent."""
        key = (symbol, start)
        if key not in self.windows:
            if self.budget <= 0:
                return None
            self.windows[key] = self.market.candles(symbol, TIMEFRAME, start, FETCH_CANDLES)
            self.budget -= max(len(self.windows[key]), 1)
        return self.windows[key]

    def live_price(self, symbol: str) -> float | None:
        if symbol not in self.live:
            self.live[symbol] = self.market.price(symbol)
        return self.live[symbol]

    def check(self, symbol: str, levels: Levels, progress: Progress) -> tuple[Progress, Outcome | None]:
        """Walk the signal's new candles until it is decided, caught up, or the budget is spent."""
        start = resume_from(levels, progress)
        while (candles := self.window(symbol, start)) is not None:
            progress, outcome = advance(levels, progress, candles)
            if outcome:
                return progress, outcome
            if len(candles) < FETCH_CANDLES:  # caught up: nothing newer has closed
                outcome = finish(levels, progress, self.now)
                live = self.live_price(symbol)
                if outcome is None and live is not None:  # the live tick, between closed candles
                    outcome = tick(levels, progress, live, self.now)
                return progress, outcome
            start = candles[-1].end
        return progress, None


def active_page() -> list:
    """The next page of active signals after the rotating cursor (wrapping to the start)."""
    cache = get_redis()
    after = int(cache.get(CURSOR_KEY) or 0)
    rows = db.session.execute(ACTIVE_PAGE, {"after": after, "n": CHECK_BATCH}).all()
    db.session.commit()
    cache.set(CURSOR_KEY, rows[-1].id if len(rows) == CHECK_BATCH else 0)
    return rows


def check_active(budget: int = PASS_CANDLES) -> int:
    """One pass: advance active signals over their new candles; record what is decided. Returns how many."""
    rows, cache = active_page(), get_redis()
    saved = stored.load(cache, [row.id for row in rows])
    signals = [(row, levels_of(row), saved.get(row.id, Progress())) for row in rows]
    signals.sort(key=lambda item: resume_from(item[1], item[2]), reverse=True)
    run = CheckPass(provider(), budget)
    changed, decided, settled = {}, [], 0
    for row, levels, before in signals:
        after, outcome = run.check(row.symbol, levels, before)
        if outcome:
            settled += record_outcome(db.engine, row.id, row.created_at, outcome) is not None
            decided.append(row.id)
        elif after != before:
            changed[row.id] = after
    stored.save(cache, changed, decided)
    stored.prune(cache, {row.id for row in rows})
    return settled
