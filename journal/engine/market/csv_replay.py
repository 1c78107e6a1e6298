"""Replay of OHLC files: <dir>/<SYMBOL>_<timeframe>.csv with ts,open,high,low,close,volume rows."""

import csv
from pathlib import Path

from journal.domain import TIMEFRAME_SECONDS
from journal.engine.market import Candle

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


class CsvProvider:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = Path(directory) if directory else SAMPLE_DIR
        self.loaded: dict[tuple[str, str], list[Candle]] = {}

    def load(self, symbol: str, timeframe: str) -> list[Candle]:
        key = (symbol, timeframe)
        if key not in self.loaded:
            path = self.directory / f"{symbol}_{timeframe}.csv"
            rows = []
            if path.exists():
                with path.open() as handle:
                    for row in csv.DictReader(handle):
                        rows.append(
                            Candle(
                                ts=float(row["ts"]),
                                open=float(row["open"]),
                                high=float(row["high"]),
                                low=float(row["low"]),
                                close=float(row["close"]),
                                volume=float(row["volume"]),
                                seconds=TIMEFRAME_SECONDS[timeframe],
                            )
                        )
            self.loaded[key] = sorted(rows, key=lambda c: c.ts)
        return self.loaded[key]

    def candles(self, symbol: str, timeframe: str, start: float | None, limit: int) -> list[Candle]:
        rows = self.load(symbol, timeframe)
        if start is None:
            return rows[-limit:]
        return [c for c in rows if c.ts >= start][:limit]

    def price(self, symbol: str) -> float | None:
        return None  # no live feed: outcomes are decided on closed candles
