"""Indicators over lists of floats and candles (no dependencies, oldest value first)."""

from journal.engine.market import Candle


def ema(values: list[float], period: int) -> list[float]:
    k = 2 / (period + 1)
    out = [values[0]]
    for value in values[1:]:
        out.append(value * k + out[-1] * (1 - k))
    return out


def sma(values: list[float], period: int) -> float:
    window = values[-period:]
    return sum(window) / len(window)


def stdev(values: list[float], period: int) -> float:
    window = values[-period:]
    mean = sum(window) / len(window)
    return (sum((v - mean) ** 2 for v in window) / len(window)) ** 0.5


def atr(candles: list[Candle], period: int = 14) -> float:
    ranges = []
    for prev, cur in zip(candles, candles[1:], strict=False):
        ranges.append(max(cur.high - cur.low, abs(cur.high - prev.close), abs(cur.low - prev.close)))
    window = ranges[-period:]
    return sum(window) / len(window) if window else 0.0


def rsi(closes: list[float], period: int = 14) -> float:
    gains, losses = 0.0, 0.0
    for prev, cur in zip(closes[-period - 1 :], closes[-period:], strict=False):
        change = cur - prev
        gains += max(change, 0)
        losses += max(-change, 0)
    if losses == 0:
        return 100.0
    return 100 - 100 / (1 + gains / losses)


def clamp(value: float, low: int = 0, high: int = 100) -> int:
    return int(max(low, min(high, round(value))))
