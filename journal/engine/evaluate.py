"""The outcome evaluator: a pure function of a signal's levels and candles, shared with backtests.

A signal is a limit order at its entry, and it is settled only after the entry is touched:

- **Market signal**: the entry lies in the range of the candle the signal was created in; it fills
  at the entry at once. That candle's moves may predate the signal, so its stop and target count
  from the next candle on.
- **Later candles**: a buy fills when a candle's low reaches the entry (a sell: its high). A candle
  that opens beyond the entry on the favourable side (a buy below it: a gap through the entry, or
  an entry the market was already past) fills at the open; otherwise at the entry.
- **Entry and a level in one candle**: finer candles (`refine`) decide where given. Otherwise the
  conservative rule, which never credits a win the candle does not prove: a stop is reached after
  the entry (the price passes the entry on its way there), so the stop alone is a LOSS; the target
  alone counts only when the close is beyond it (then it was crossed after the fill), else the
  signal stays open, filled; stop and target both: AMBIGUOUS.
- **NOT_FILLED**: the entry is never touched before `expires`.

Once filled: WIN (target first), LOSS (stop first, or an open beyond it), AMBIGUOUS (both in one
candle that finer candles cannot settle), EXPIRED (neither before `expires`), DATA_GAP (a missing
candle before anything was decided). `advance` consumes candles from a `Progress`, so the live
checker reads only new candles; `evaluate` is the same walk from the start.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from journal.domain import AMBIGUOUS, DATA_GAP, EXPIRED, LOSS, NOT_FILLED, WIN
from journal.engine.market import EPSILON, Candle

GRACE_SECONDS = 300
Refine = Callable[[Candle], list[Candle]]


@dataclass(frozen=True)
class Levels:
    """What the evaluator needs of a signal; times in epoch seconds."""

    side: str
    entry: float
    stop: float
    target: float
    created: float
    expires: float | None = None


@dataclass(frozen=True)
class Progress:
    """How far a signal was checked: candles consumed up to `until`, the fill once the entry was touched."""

    until: float | None = None
    fill_price: float | None = None
    last_close: float | None = None


@dataclass(frozen=True)
class Outcome:
    result: str  # one of domain.OUTCOMES
    price: float | None  # the exit price (None for NOT_FILLED and DATA_GAP)
    at: float
    fill_price: float | None = None  # where the entry was filled (None when it never was)


def buying(levels: Levels) -> bool:
    return levels.side == "buy"


def reaches_entry(levels: Levels, candle: Candle) -> bool:
    return candle.low <= levels.entry if buying(levels) else candle.high >= levels.entry


def opens_past_entry(levels: Levels, candle: Candle) -> bool:
    """The open is at or beyond the entry on the favourable side: the order fills at the open."""
    return candle.open <= levels.entry if buying(levels) else candle.open >= levels.entry


def closes_past_target(levels: Levels, candle: Candle) -> bool:
    return candle.close >= levels.target if buying(levels) else candle.close <= levels.target


def touches(levels: Levels, candle: Candle) -> tuple[bool, bool]:
    """(stop touched, target touched) within one candle."""
    if buying(levels):
        return candle.low <= levels.stop, candle.high >= levels.target
    return candle.high >= levels.stop, candle.low <= levels.target


def gapped(levels: Levels, candle: Candle) -> str | None:
    """An open already beyond a level settles at the open price."""
    if buying(levels):
        return LOSS if candle.open <= levels.stop else WIN if candle.open >= levels.target else None
    return LOSS if candle.open >= levels.stop else WIN if candle.open <= levels.target else None


def by_finer(
    levels: Levels, progress: Progress, candle: Candle, refine: Refine | None
) -> tuple[Progress, Outcome | None] | None:
    """The walk over `candle`'s finer candles when they cover it whole, else None."""
    finer = refine(candle) if refine else []
    if not finer or finer[0].ts > candle.ts + EPSILON or finer[-1].end < candle.end - EPSILON:
        return None
    inner = replace(levels, created=candle.ts, expires=None)
    return advance(inner, replace(progress, until=None), finer)


def settle(levels: Levels, fill: float, candle: Candle, refine: Refine | None) -> Outcome | None:
    """A candle of a signal filled before or at its open: the first level it reaches, if any."""
    opened = gapped(levels, candle)
    if opened:
        return Outcome(opened, candle.open, candle.ts, fill)
    stop_hit, target_hit = touches(levels, candle)
    if stop_hit and target_hit:
        walked = by_finer(levels, Progress(fill_price=fill), candle, refine)
        if walked and walked[1] and walked[1].result in (WIN, LOSS):
            return walked[1]
        return Outcome(AMBIGUOUS, candle.close, candle.end, fill)
    if stop_hit:
        return Outcome(LOSS, levels.stop, candle.end, fill)
    if target_hit:
        return Outcome(WIN, levels.target, candle.end, fill)
    return None


def filled_inside(
    levels: Levels, done: Progress, candle: Candle, refine: Refine | None
) -> tuple[Progress, Outcome | None]:
    """A candle that reaches the entry after its open: finer candles, else the conservative rule."""
    walked = by_finer(levels, Progress(), candle, refine)
    if walked:
        inner, outcome = walked
        decided = outcome is not None and outcome.result in (WIN, LOSS)
        if inner.fill_price is not None and (decided or outcome is None):
            return replace(done, fill_price=inner.fill_price), outcome
    done = replace(done, fill_price=levels.entry)
    stop_hit, target_hit = touches(levels, candle)
    if stop_hit and target_hit:
        return done, Outcome(AMBIGUOUS, candle.close, candle.end, levels.entry)
    if stop_hit:
        return done, Outcome(LOSS, levels.stop, candle.end, levels.entry)
    if target_hit and closes_past_target(levels, candle):
        return done, Outcome(WIN, levels.target, candle.end, levels.entry)
    return done, None


def step(
    levels: Levels, progress: Progress, candle: Candle, refine: Refine | None = None
) -> tuple[Progress, Outcome | None]:
    """One candle that opens at or after the signal's creation."""
    done = replace(progress, until=candle.end, last_close=candle.close)
    if progress.fill_price is None:
        if not reaches_entry(levels, candle):
            return done, None
        if not opens_past_entry(levels, candle):
            return filled_inside(levels, done, candle, refine)
        done = replace(done, fill_price=candle.open)
    return done, settle(levels, done.fill_price, candle, refine)


def opening(levels: Levels, progress: Progress, candle: Candle) -> Progress:
    """The candle forming at creation: a market signal fills at its entry; nothing else counts."""
    filled = candle.low <= levels.entry <= candle.high
    fill = levels.entry if filled and progress.fill_price is None else progress.fill_price
    return replace(progress, until=candle.end, fill_price=fill, last_close=candle.close)


def at_expiry(levels: Levels, progress: Progress) -> Outcome:
    if progress.fill_price is None:
        return Outcome(NOT_FILLED, None, levels.expires)
    return Outcome(EXPIRED, progress.last_close, levels.expires, progress.fill_price)


def advance(
    levels: Levels, progress: Progress, candles: list[Candle], refine: Refine | None = None
) -> tuple[Progress, Outcome | None]:
    """Consume the candles after `progress.until`: the new progress, and the outcome once decided."""
    for candle in candles:
        if progress.until is not None and candle.ts < progress.until - EPSILON:
            continue  # consumed by an earlier pass
        if candle.end <= levels.created + EPSILON:
            continue  # closed before the signal existed
        if levels.expires is not None and candle.ts >= levels.expires:
            return progress, at_expiry(levels, progress)
        if progress.until is not None and candle.ts > progress.until + EPSILON:
            return progress, Outcome(DATA_GAP, None, progress.until, progress.fill_price)
        if candle.ts < levels.created - EPSILON:
            progress = opening(levels, progress, candle)
            continue
        progress, outcome = step(levels, progress, candle, refine)
        if outcome:
            return progress, outcome
    return progress, None


def finish(levels: Levels, progress: Progress, now: float | None) -> Outcome | None:
    """What the end of the data means: the expiry was reached, or prices are missing past it."""
    if levels.expires is None:
        return None
    if progress.until is not None and progress.until >= levels.expires - EPSILON:
        return at_expiry(levels, progress)
    if now is not None and now > levels.expires + GRACE_SECONDS:
        return Outcome(DATA_GAP, None, progress.until or levels.created, progress.fill_price)
    return None


def tick(levels: Levels, progress: Progress, price: float, now: float) -> Outcome | None:
    """The live price between closed candles: a zero-length candle after the consumed ones."""
    if levels.expires is not None and now >= levels.expires:
        return None  # the closed candles decide what happened up to the expiry
    return step(levels, progress, Candle(now, price, price, price, price, 0.0, 0.0))[1]


def evaluate(
    levels: Levels, candles: list[Candle], refine: Refine | None = None, now: float | None = None
) -> Outcome | None:
    """The first decisive event in the candles after `levels.created`, or None while undecided.

    `now` (when the candles reach the present) turns an expiry without prices into DATA_GAP.
    """
    progress, outcome = advance(levels, Progress(), candles, refine)
    return outcome or finish(levels, progress, now)
