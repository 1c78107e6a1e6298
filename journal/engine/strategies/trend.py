"""Trend following: a fresh EMA(9)/EMA(21) cross in the direction of EMA(50); ATR stops."""

from journal.engine.market import Candle
from journal.engine.strategies.indicators import atr, clamp, ema

MIN_CANDLES = 60


def propose(candles: list[Candle]) -> tuple | None:
    if len(candles) < MIN_CANDLES:
        return None
    closes = [c.close for c in candles]
    fast, slow, anchor = ema(closes, 9), ema(closes, 21), ema(closes, 50)
    vol = atr(candles)
    if vol <= 0:
        return None
    entry = closes[-1]
    crossed_up = fast[-2] <= slow[-2] and fast[-1] > slow[-1] and entry > anchor[-1]
    crossed_down = fast[-2] >= slow[-2] and fast[-1] < slow[-1] and entry < anchor[-1]
    if not (crossed_up or crossed_down):
        return None
    slope = abs(anchor[-1] - anchor[-6]) / vol
    confidence = clamp(50 + 12 * slope + 8 * abs(fast[-1] - slow[-1]) / vol)
    if crossed_up:
        return "buy", entry, entry - 1.5 * vol, entry + 3 * vol, confidence, "EMA 9/21 cross up above EMA 50"
    return "sell", entry, entry + 1.5 * vol, entry - 3 * vol, confidence, "EMA 9/21 cross down below EMA 50"
