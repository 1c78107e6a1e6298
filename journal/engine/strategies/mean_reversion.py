"""Mean reversion: a close outside the Bollinger band with RSI stretched; target the middle band."""

from journal.engine.market import Candle
from journal.engine.strategies.indicators import atr, clamp, rsi, sma, stdev

PERIOD = 20


def propose(candles: list[Candle]) -> tuple | None:
    if len(candles) < PERIOD + 15:
        return None
    closes = [c.close for c in candles]
    middle, width = sma(closes, PERIOD), 2 * stdev(closes, PERIOD)
    strength, vol, entry = rsi(closes), atr(candles), closes[-1]
    if vol <= 0 or width <= 0:
        return None
    if entry < middle - width and strength < 30 and middle - entry > vol:
        confidence = clamp(45 + (30 - strength) * 1.5 + 10 * (middle - width - entry) / vol)
        return "buy", entry, entry - 1.5 * vol, middle, confidence, f"below lower band, RSI {strength:.0f}"
    if entry > middle + width and strength > 70 and entry - middle > vol:
        confidence = clamp(45 + (strength - 70) * 1.5 + 10 * (entry - middle - width) / vol)
        return "sell", entry, entry + 1.5 * vol, middle, confidence, f"above upper band, RSI {strength:.0f}"
    return None
