"""Server-side generation: market data -> strategies -> quality filter -> record_signals(), in one batch."""

import logging

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import text

from journal.engine.market import as_decimal, provider
from journal.engine.strategies import Proposal, propose_all
from journal.extensions import db, get_redis
from journal.schemas import SignalCreate
from journal.stream.record import Recorded, record_signals

HISTORY = 120
log = logging.getLogger(__name__)


def tier_for(confidence: int) -> str:
    """The better the setup, the more users may receive it."""
    return "low" if confidence >= 80 else "medium" if confidence >= 65 else "high"


def open_pairs() -> set[tuple[str, str]]:
    rows = db.session.execute(
        text("SELECT DISTINCT symbol, side FROM signals WHERE outcome IS NULL AND status = 'active'")
    )
    return {(row.symbol, row.side) for row in rows}


def passes_filter(symbol: str, proposal: Proposal, open_now: set[tuple[str, str]]) -> bool:
    """Minimum confidence, no open signal on the same symbol and side, per-symbol cooldown."""
    config = current_app.config
    if proposal.confidence < config["GENERATION_MIN_CONFIDENCE"]:
        return False
    if (symbol, proposal.side) in open_now:
        return False
    cooldown = config["GENERATION_COOLDOWN_SECONDS"]
    return bool(get_redis().set(f"cooldown:{symbol}", proposal.strategy, nx=True, ex=cooldown))


def generate() -> list[str]:
    """One generation pass over the universe; returns the ids of the signals it recorded."""
    config = current_app.config
    timeframe, market = config["GENERATION_TIMEFRAME"], provider()
    open_now, proposed = open_pairs(), []
    for symbol in config["SYMBOLS"]:
        candles = market.candles(symbol, timeframe, None, HISTORY)
        if len(candles) < HISTORY // 2:
            continue
        for proposal in propose_all(candles):
            if not passes_filter(symbol, proposal, open_now):
                continue
            body = {
                "symbol": symbol,
                "side": proposal.side,
                "entry_price": str(as_decimal(proposal.entry)),
                "stop_loss": str(as_decimal(proposal.stop_loss)),
                "take_profit": str(as_decimal(proposal.take_profit)),
                "risk_tier": tier_for(proposal.confidence),
                "confidence": proposal.confidence,
                "timeframe": timeframe,
                "strategy": proposal.strategy,
                "payload": {"reason": proposal.reason, "candle_ts": candles[-1].ts},
                # one signal per strategy, symbol and candle, however many beats or retries run
                "dedup_key": f"{proposal.strategy}:{symbol}:{timeframe}:{int(candles[-1].ts)}",
            }
            try:
                data = SignalCreate().load(body)
            except ValidationError as err:  # e.g. a price the API would refuse too
                log.warning("skipped %s %s: %s", proposal.strategy, symbol, err.messages)
                continue
            proposed.append(data)
            open_now.add((symbol, proposal.side))
            break  # the best proposal per symbol
    # one statement for the whole pass, as a batch posted over the API would be
    recorded = record_signals(proposed, source="engine")
    return [r.signal["id"] for r in recorded if isinstance(r, Recorded) and r.created]
