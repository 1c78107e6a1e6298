"""A seeded, deterministic market: trends, volatility regimes and gaps, the same for every process.

Every candle is a pure function of (seed, symbol, index), so any process, at any time, sees the
same history without storing it. The log price is value noise summed over several time scales
(slow scales make trends), the candle range follows a slow volatility regime, and now and then a
candle opens with a gap. `scale` shrinks time: with scale 60 a "1m" candle lasts one second, so
demos and tests see a busy market.
"""

import functools
import hashlib
import math
import struct
import time

from journal.domain import TIMEFRAME_SECONDS
from journal.engine.market import Candle

BASE_PRICES = {
    "BTCUSDT": 65000, "ETHUSDT": 3000, "BNBUSDT": 580, "SOLUSDT": 150, "XRPUSDT": 0.55,
    "ADAUSDT": 0.45, "DOGEUSDT": 0.12, "AVAXUSDT": 30, "DOTUSDT": 6.5, "LINKUSDT": 14,
    "MATICUSDT": 0.7, "LTCUSDT": 80, "TRXUSDT": 0.12, "ATOMUSDT": 8, "UNIUSDT": 9,
    "XLMUSDT": 0.1, "ETCUSDT": 25, "FILUSDT": 5, "APTUSDT": 8, "NEARUSDT": 5,
    "ARBUSDT": 0.9, "OPUSDT": 1.8, "AAVEUSDT": 150, "INJUSDT": 22, "SUIUSDT": 1.5,
    "EURUSD": 1.08, "GBPUSD": 1.27, "USDJPY": 150, "AUDUSD": 0.66, "USDCAD": 1.36,
    "USDCHF": 0.88, "NZDUSD": 0.61, "EURGBP": 0.85, "EURJPY": 162, "GBPJPY": 190,
    "XAUUSD": 2350, "XAGUSD": 28, "WTIUSD": 78, "SPX500": 5300, "NAS100": 18500,
    "US30": 39000, "GER40": 18400, "UK100": 8200, "JPN225": 38500, "AAPL": 190,
    "MSFT": 420, "NVDA": 900, "AMZN": 180, "TSLA": 180, "META": 480,
}  # fmt: skip
SCALES = ((4096, 0.06), (1024, 0.03), (256, 0.015), (64, 0.008), (16, 0.004), (4, 0.002))


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return struct.unpack(">Q", digest)[0] / 2**64


def value_noise(key: tuple, x: float) -> float:
    """Smooth noise in [-1, 1]: cosine interpolation between hashed lattice points."""
    i = math.floor(x)
    t = (1 - math.cos((x - i) * math.pi)) / 2
    a, b = unit(*key, i) * 2 - 1, unit(*key, i + 1) * 2 - 1
    return a + (b - a) * t


class SimulatedProvider:
    def __init__(self, seed: int = 7, scale: float = 1.0) -> None:
        self.seed, self.scale = seed, scale

    def base(self, symbol: str) -> float:
        return BASE_PRICES.get(symbol) or 10 + 990 * unit(self.seed, symbol, "base")

    def log_price(self, symbol: str, minute: float) -> float:
        drift = sum(amp * value_noise((self.seed, symbol, span), minute / span) for span, amp in SCALES)
        return math.log(self.base(symbol)) + drift

    def volatility(self, symbol: str, minute: float) -> float:
        """Range of a one-minute candle as a fraction of price: calm and busy regimes."""
        regime = value_noise((self.seed, symbol, "vol"), minute / 720)
        return 0.0008 * math.exp(1.2 * regime)

    @functools.lru_cache(maxsize=500_000)  # noqa: B019 - providers live as long as the process
    def minute_candle(self, symbol: str, index: int) -> tuple[float, float, float, float, float]:
        close = math.exp(self.log_price(symbol, index + 1))
        open_ = math.exp(self.log_price(symbol, index))
        if unit(self.seed, symbol, index, "gap") < 0.004:  # now and then a gap at the open
            open_ *= 1 + (unit(self.seed, symbol, index, "gapsize") - 0.5) * 0.01
        vol = self.volatility(symbol, index)
        high = max(open_, close) * (1 + vol * unit(self.seed, symbol, index, "h"))
        low = min(open_, close) * (1 - vol * unit(self.seed, symbol, index, "l"))
        volume = 1000 * (0.5 + unit(self.seed, symbol, index, "v")) * (1 + 20 * vol)
        return open_, high, low, close, volume

    def candles(self, symbol: str, timeframe: str, start: float | None, limit: int) -> list[Candle]:
        length = TIMEFRAME_SECONDS[timeframe] / self.scale  # real seconds per candle
        minutes = TIMEFRAME_SECONDS[timeframe] // 60
        current = math.floor(time.time() / length)  # the forming candle; only closed ones are returned
        first = current - limit if start is None else math.ceil(start / length)
        out = []
        for index in range(first, min(first + limit, current)):
            bars = [self.minute_candle(symbol, index * minutes + k) for k in range(minutes)]
            out.append(
                Candle(
                    ts=index * length,
                    open=bars[0][0],
                    high=max(b[1] for b in bars),
                    low=min(b[2] for b in bars),
                    close=bars[-1][3],
                    volume=sum(b[4] for b in bars),
                    seconds=length,
                )
            )
        return out

    def price(self, symbol: str) -> float | None:
        return None  # no live feed: outcomes are decided on closed candles
