"""Backtests: the live strategies over stored history, settled by the live outcome evaluator."""

from collections import Counter

from journal.domain import LOSS, NOT_FILLED, TIMEFRAME_SECONDS, WIN
from journal.engine.evaluate import Levels, evaluate
from journal.engine.market import Provider
from journal.engine.strategies import propose_all
from journal.stream.record import EXPIRY_CANDLES

WINDOW = 120


def backtest(market: Provider, symbol: str, timeframe: str, count: int, min_confidence: int = 0) -> dict:
    """Walk the last `count` candles; one trade at a time, as the generator's filter allows."""
    candles = market.candles(symbol, timeframe, None, count)
    minutes = TIMEFRAME_SECONDS[timeframe] // 60

    def refine(candle):
        return market.candles(symbol, "1m", candle.ts, minutes) if minutes > 1 else []

    trades, i = [], WINDOW
    while i < len(candles):
        proposals = [p for p in propose_all(candles[i - WINDOW : i]) if p.confidence >= min_confidence]
        if not proposals:
            i += 1
            continue
        best, opened = proposals[0], candles[i - 1].end
        expires = opened + EXPIRY_CANDLES * candles[i].seconds
        levels = Levels(best.side, best.entry, best.stop_loss, best.take_profit, opened, expires)
        outcome = evaluate(levels, candles[i:], refine)
        if outcome is None:
            break  # still open at the end of the history
        trades.append({"strategy": best.strategy, "side": best.side, "opened": opened, **vars(outcome)})
        i = next((k for k, c in enumerate(candles) if c.ts >= outcome.at), len(candles)) + 1
    return summarize(symbol, timeframe, trades)


def summarize(symbol: str, timeframe: str, trades: list[dict]) -> dict:
    results = Counter(t["result"] for t in trades)
    decided = results[WIN] + results[LOSS]  # a signal never filled is no trade: out of the win rate
    by_strategy: dict[str, Counter] = {}
    for trade in trades:
        by_strategy.setdefault(trade["strategy"], Counter())[trade["result"]] += 1
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "trades": len(trades),
        "results": dict(results),
        "not_filled": results[NOT_FILLED],
        "win_rate": round(100 * results[WIN] / decided, 2) if decided else None,
        "by_strategy": {name: dict(counts) for name, counts in by_strategy.items()},
    }
