"""Outcomes: the evaluator shared with backtests, and recording an outcome once."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from journal import broadcast
from journal.extensions import db
from journal.market import Candle, as_decimal, provider
from journal.models import signal_dict

CHECK_BATCH = 1000
MAX_CANDLES = 5000
GRACE_SECONDS = 300


@dataclass(frozen=True)
class Outcome:
    result: str  # WIN, LOSS, EXPIRED, AMBIGUOUS, DATA_GAP
    price: float | None
    at: float


def touches(side: str, stop: float, target: float, candle: Candle) -> tuple[bool, bool]:
    """(stop touched, target touched) within one candle."""
    if side == "buy":
        return candle.low <= stop, candle.high >= target
    return candle.high >= stop, candle.low <= target


def gapped(side: str, stop: float, target: float, candle: Candle) -> str | None:
    """An open already beyond a level settles at the open price."""
    if side == "buy":
        return "LOSS" if candle.open <= stop else "WIN" if candle.open >= target else None
    return "LOSS" if candle.open >= stop else "WIN" if candle.open <= target else None


def evaluate(
    side: str,
    stop: float,
    target: float,
    created: float,
    expires: float | None,
    candles: list[Candle],
    refine: Callable[[Candle], list[Candle]] | None = None,
    now: float | None = None,
) -> Outcome | None:
    """The first decisive event in the candles after `created`, or None while undecided.

    WIN: take-profit before stop-loss; LOSS: the reverse; AMBIGUOUS: both inside one candle
    that finer candles (`refine`) cannot settle; EXPIRED: neither before `expires`; DATA_GAP: a
    missing candle before anything was decided.
    """
    expected = None
    last_close = None
    for candle in candles:
        if candle.ts < created:
            continue  # the candle that was forming at creation may hold moves from before it
        if expires is not None and candle.ts >= expires:
            return Outcome("EXPIRED", last_close, expires)
        if expected is not None and candle.ts > expected + 1e-6:
            return Outcome("DATA_GAP", None, expected)
        expected = candle.end
        opened = gapped(side, stop, target, candle)
        if opened:
            return Outcome(opened, candle.open, candle.ts)
        stop_hit, target_hit = touches(side, stop, target, candle)
        if stop_hit and target_hit:
            finer = refine(candle) if refine else []
            settled = evaluate(side, stop, target, candle.ts, None, finer) if finer else None
            return (
                settled
                if settled and settled.result in ("WIN", "LOSS")
                else Outcome("AMBIGUOUS", candle.close, candle.end)
            )
        if stop_hit:
            return Outcome("LOSS", stop, candle.end)
        if target_hit:
            return Outcome("WIN", target, candle.end)
        last_close = candle.close
    if expires is not None and expected is not None and expected >= expires:
        return Outcome("EXPIRED", last_close, expires)
    if expires is not None and now is not None and now > expires + GRACE_SECONDS:
        return Outcome("DATA_GAP", None, expected or created)  # expired with prices missing
    return None


def record_outcome(engine: Engine, signal_pk: int, outcome: Outcome) -> dict | None:
    """Store the outcome if none is stored yet (once), then push signal:outcome; None if settled."""
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "UPDATE signals SET outcome = :result, outcome_price = :price, outcome_at = :at "
                "WHERE id = :id AND outcome IS NULL RETURNING *"
            ),
            {
                "id": signal_pk,
                "result": outcome.result,
                "price": as_decimal(outcome.price) if outcome.price is not None else None,
                "at": datetime.fromtimestamp(outcome.at, UTC),
            },
        ).first()
        if row is None:
            return None
        rooms = broadcast.rooms_by_signal_tier(conn).get(row.risk_tier, [])
    data = signal_dict(row)
    broadcast.emit_to_rooms("signal:outcome", data, rooms)
    return data


def check_active() -> int:
    """Evaluate every active signal against 1m candles; record what is decided. Returns how many."""
    rows = db.session.execute(
        text(
            "SELECT id, symbol, side, stop_loss, take_profit, created_at, expires_at FROM signals "
            "WHERE outcome IS NULL AND status = 'active' ORDER BY id LIMIT :n"
        ),
        {"n": CHECK_BATCH},
    ).all()
    db.session.commit()
    by_symbol: dict[str, list] = {}
    for row in rows:
        by_symbol.setdefault(row.symbol, []).append(row)
    market, settled = provider(), 0
    for symbol, signals in by_symbol.items():
        start = min(row.created_at.timestamp() for row in signals)
        candles = market.candles(symbol, "1m", start - 60, MAX_CANDLES)
        live, now = market.price(symbol), time.time()
        for row in signals:
            levels = (row.side, float(row.stop_loss), float(row.take_profit), row.created_at.timestamp())
            expires = row.expires_at.timestamp() if row.expires_at else None
            outcome = evaluate(*levels, expires, candles, now=now)
            if outcome is None and live is not None:  # the live tick, between closed candles
                outcome = evaluate(*levels, expires, [Candle(now, live, live, live, live, 0.0, 0.0)])
            if outcome and record_outcome(db.engine, row.id, outcome):
                settled += 1
    return settled
