"""Exchange market data: REST candles (Binance kline format) and a WebSocket ticker stream that
falls back to HTTP polling while the stream is down and reconnects with exponential backoff.

Plain REST + WebSocket rather than ccxt: ccxt's exchange classes start by loading the exchange's
full market metadata and speak many endpoints, which makes them heavy to replay offline in tests;
these two endpoints are all the hub needs.
"""

import json
import logging
import threading
import time

import requests
import websocket

from journal.domain import TIMEFRAME_SECONDS
from journal.engine.market import Candle, MarketError

log = logging.getLogger(__name__)
RETRY_STATUSES = {429, 500, 502, 503, 504}


class ExchangeError(MarketError):
    pass


class ExchangeProvider:
    def __init__(
        self, base_url: str, stream_url: str, tries: int = 5, backoff: float = 0.2, timeout: float = 10
    ) -> None:
        self.base_url, self.stream_url = base_url.rstrip("/"), stream_url.rstrip("/")
        self.tries, self.backoff, self.timeout = tries, backoff, timeout
        self.http = requests.Session()
        self.feeds: dict[str, TickerFeed] = {}

    def get(self, path: str, params: dict) -> object:
        """GET with exponential backoff on 429 and 5xx (honouring Retry-After)."""
        delay = self.backoff
        for attempt in range(1, self.tries + 1):
            try:
                resp = self.http.get(self.base_url + path, params=params, timeout=self.timeout)
            except requests.RequestException as err:
                if attempt == self.tries:
                    raise ExchangeError(str(err)) from err
            else:
                if resp.status_code not in RETRY_STATUSES:
                    resp.raise_for_status()
                    return resp.json()
                if attempt == self.tries:
                    raise ExchangeError(f"{path}: HTTP {resp.status_code} after {attempt} tries")
                delay = max(delay, float(resp.headers.get("Retry-After", 0) or 0))
            time.sleep(delay)
            delay *= 2
        raise ExchangeError("unreachable")

    def candles(self, symbol: str, timeframe: str, start: float | None, limit: int) -> list[Candle]:
        params = {"symbol": symbol, "interval": timeframe, "limit": min(limit, 1000)}
        if start is not None:
            params["startTime"] = int(start * 1000)
        seconds = TIMEFRAME_SECONDS[timeframe]
        now = time.time()
        rows = self.get("/api/v3/klines", params)
        candles = [
            Candle(r[0] / 1000, float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), seconds)
            for r in rows
        ]
        return [c for c in candles if c.end <= now]  # the forming candle is not closed yet

    def ticker_price(self, symbol: str) -> float:
        return float(self.get("/api/v3/ticker/price", {"symbol": symbol})["price"])

    def price(self, symbol: str) -> float | None:
        """The latest traded price from the live feed (started on first use)."""
        if symbol not in self.feeds:
            self.feeds[symbol] = TickerFeed(self, symbol).start()
        return self.feeds[symbol].price


class TickerFeed:
    """Latest price of one symbol: WebSocket kline stream, HTTP polling while the stream is down."""

    def __init__(self, exchange: ExchangeProvider, symbol: str, poll_every: float = 1.0) -> None:
        self.exchange, self.symbol, self.poll_every = exchange, symbol, poll_every
        self.price: float | None = None
        self.mode = "starting"
        self.stopped = threading.Event()
        self.streaming = threading.Event()
        self.reconnects = 0

    def start(self) -> "TickerFeed":
        threading.Thread(target=self.stream_loop, daemon=True, name=f"ws-{self.symbol}").start()
        threading.Thread(target=self.poll_loop, daemon=True, name=f"poll-{self.symbol}").start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def stream_loop(self) -> None:
        url = f"{self.exchange.stream_url}/{self.symbol.lower()}@kline_1m"
        delay = 0.5
        while not self.stopped.is_set():
            try:
                ws = websocket.create_connection(url, timeout=5)
                self.streaming.set()
                self.mode, delay = "stream", 0.5
                while not self.stopped.is_set():
                    event = json.loads(ws.recv())
                    self.price = float(event["k"]["c"])
            except (OSError, websocket.WebSocketException, ValueError, KeyError) as err:
                log.warning("ticker stream %s down (%s); polling, retry in %.1fs", self.symbol, err, delay)
            self.streaming.clear()
            self.mode = "polling"
            self.reconnects += 1
            self.stopped.wait(delay)
            delay = min(delay * 2, 30)

    def poll_loop(self) -> None:
        while not self.stopped.wait(self.poll_every):
            if self.streaming.is_set():
                continue
            try:
                self.price = self.exchange.ticker_price(self.symbol)
            except ExchangeError as err:
                log.warning("ticker poll %s failed: %s", self.symbol, err)
