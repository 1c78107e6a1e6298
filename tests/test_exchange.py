"""The exchange provider against a local replay of recorded responses (nothing leaves the machine)."""

import subprocess
import sys
import time

import pytest
import requests

from journal.devstack import ROOT, wait_http
from journal.embedded import free_port
from journal.engine.market.exchange import ExchangeError, ExchangeProvider


@pytest.fixture(scope="module")
def replay():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.exchange_replay", str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/api/v3/ticker/price")
    yield url
    proc.terminate()
    proc.wait()


def control(url: str, **settings) -> dict:
    return requests.post(url + "/control", json=settings).json()


def test_replayed_klines_yield_candles(replay):
    candles = ExchangeProvider(replay, replay.replace("http", "ws")).candles("BTCUSDT", "1m", None, 500)
    assert len(candles) == 120
    assert candles[0].ts == 1_767_225_600 and candles[0].seconds == 60
    assert all(a.ts < b.ts for a, b in zip(candles, candles[1:], strict=False))
    assert all(c.low <= c.open <= c.high and c.low <= c.close <= c.high for c in candles)


@pytest.mark.parametrize("codes", [[429, 429], [503, 502, 500]])
def test_429_and_5xx_back_off_then_succeed(replay, codes):
    before = control(replay, fail=codes)["requests"]
    exchange = ExchangeProvider(replay, replay, backoff=0.05)
    started = time.monotonic()
    assert len(exchange.candles("BTCUSDT", "1m", None, 10)) == 10
    assert control(replay)["requests"] - before == len(codes) + 1
    assert time.monotonic() - started >= 0.05 * (2 ** len(codes) - 1)  # waits doubled each time


def test_gives_up_after_its_tries(replay):
    control(replay, fail=[503] * 3)
    with pytest.raises(ExchangeError, match="503"):
        ExchangeProvider(replay, replay, tries=3, backoff=0.01).candles("BTCUSDT", "1m", None, 10)


def wait_for(predicate, timeout: float = 15) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


def test_stream_falls_back_to_polling_and_comes_back(replay):
    control(replay, ws_down=False, fail=[])
    exchange = ExchangeProvider(replay, replay.replace("http", "ws") + "/ws")
    exchange.price("BTCUSDT")
    feed = exchange.feeds["BTCUSDT"]
    feed.poll_every = 0.2
    try:
        assert wait_for(lambda: feed.mode == "stream" and feed.price is not None)
        control(replay, ws_down=True)  # the stream dies
        assert wait_for(lambda: feed.mode == "polling")
        polled_before = control(replay)["requests"]
        first = feed.price
        assert wait_for(lambda: feed.price != first and control(replay)["requests"] > polled_before + 1)
        control(replay, ws_down=False)  # the stream comes back
        assert wait_for(lambda: feed.mode == "stream", timeout=20)
        assert feed.reconnects >= 1
    finally:
        feed.stop()


def test_ohlc_cache_means_a_restart_does_not_refetch_history(replay, worker_app):
    from journal.engine.market.cache import CachedProvider

    control(replay, fail=[])
    with worker_app.app_context():
        first = CachedProvider(ExchangeProvider(replay, replay)).candles("BTCUSDT", "1m", None, 500)
        assert control(replay)["last_query"].get("startTime") is None
        restarted = CachedProvider(ExchangeProvider(replay, replay))  # a new process: only Redis is left
        again = restarted.candles("BTCUSDT", "1m", None, 500)
    assert again == first and len(first) == 120
    assert int(control(replay)["last_query"]["startTime"]) == int(first[-1].end * 1000)  # only newer ones
