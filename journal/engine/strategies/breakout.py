"""Breakout: a close beyond the last 20 candles' range after the range has been tight."""

from journal.engine.market import Candle
from journal.engine.strategies.indicators import atr, clamp

LOOKBACK = 20


def propose(candles: list[Candle]) -> tuple | None:
    if len(candles) < LOOKBACK + 15:
        return None
    window = candles[-LOOKBACK - 1 : -1]
    top, bottom = max(c.high for c in window), min(c.low for c in window)
    vol, last = atr(candles), candles[-1]
    if vol <= 0:
        return None
    tightness = (top - bottom) / (vol * LOOKBACK**0.5)  # below ~1.5: a coiled range
    confidence = clamp(55 + 20 * max(0.0, 1.5 - tightness) + 10 * abs(last.close - last.open) / vol)
    if last.close > top and candles[-2].close <= top:
        return (
            "buy",
            last.close,
            last.close - 1.2 * vol,
            last.close + 2.5 * vol,
            confidence,
            "range breakout up",
        )
    if last.close < bottom and candles[-2].close >= bottom:
        return (
            "sell",
            last.close,
            last.close + 1.2 * vol,
            last.close - 2.5 * vol,
            confidence,
            "range breakout down",
        )
    return None
