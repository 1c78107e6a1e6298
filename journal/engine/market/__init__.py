"""Market data: the Candle type, the provider interface, the configured provider and its last price."""

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from flask import current_app

EPSILON = 1e-6  # candle times are floats (exchange milliseconds / 1000, scaled simulated time)


class MarketError(RuntimeError):
    """Market data could not be read (the exchange is unreachable); worth retrying later."""


@dataclass(frozen=True)
class Candle:
    """One OHLCV bar; `ts` is its open time in epoch seconds, `seconds` its length."""

    ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float
    seconds: float

    @property
    def end(self) -> float:
        return self.ts + self.seconds

    def as_list(self) -> list[float]:
        return [self.ts, self.open, self.high, self.low, self.close, self.volume, self.seconds]


class Provider(Protocol):
    def candles(self, symbol: str, timeframe: str, start: float | None, limit: int) -> list[Candle]:
        """Closed candles, oldest first: from `start` (or the latest `limit` when None)."""
        ...

    def price(self, symbol: str) -> float | None:
        """The live price where the provider streams one, else None."""
        ...


def provider() -> Provider:
    """The provider named by MARKET_PROVIDER; fetched data (csv, exchange) is cached in Redis.

    The simulated market computes any candle for free, so it is not cached.
    """
    app = current_app
    if "market" not in app.extensions:
        from journal.engine.market.cache import CachedProvider

        name = app.config["MARKET_PROVIDER"]
        if name == "simulated":
            from journal.engine.market.simulated import SimulatedProvider

            market = SimulatedProvider(app.config["MARKET_SEED"], app.config["MARKET_CANDLE_SCALE"])
        elif name == "csv":
            from journal.engine.market.csv_replay import CsvProvider

            market = CachedProvider(CsvProvider(app.config["MARKET_CSV_DIR"]))
        elif name == "exchange":
            from journal.engine.market.exchange import ExchangeProvider

            market = CachedProvider(
                ExchangeProvider(app.config["MARKET_EXCHANGE_URL"], app.config["MARKET_EXCHANGE_WS"])
            )
        else:
            raise RuntimeError(f"unknown MARKET_PROVIDER {name!r}")
        app.extensions["market"] = market
    return app.extensions["market"]


def last_price(symbol: str) -> tuple[float, float] | None:
    """(price, epoch seconds): the live tick where the provider streams one, else the close of the
    latest closed 1m candle; None when the provider has no data for the symbol."""
    market = provider()
    live = market.price(symbol)
    if live is not None:
        return live, time.time()
    latest = market.candles(symbol, "1m", None, 1)
    return (latest[-1].close, latest[-1].end) if latest else None


def as_decimal(price: float) -> Decimal:
    """A price rounded to 6 significant digits past the leading ones, as stored decimals."""
    return Decimal(f"{price:.10g}")
