"""Strategies: pure functions of candles that propose a signal (side, entry, stop, target, confidence)."""

from dataclasses import dataclass

from journal.engine.market import Candle
from journal.engine.strategies import breakout, mean_reversion, trend


@dataclass(frozen=True)
class Proposal:
    strategy: str
    side: str
    entry: float
    stop_loss: float
    take_profit: float
    confidence: int
    reason: str


STRATEGIES = {"trend": trend.propose, "mean_reversion": mean_reversion.propose, "breakout": breakout.propose}


def propose_all(candles: list[Candle]) -> list[Proposal]:
    """Every strategy's proposal for the latest closed candle, best first."""
    proposals = []
    for name, propose in STRATEGIES.items():
        result = propose(candles)
        if result is not None:
            proposals.append(Proposal(name, *result))
    return sorted(proposals, key=lambda p: p.confidence, reverse=True)
