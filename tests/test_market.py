"""Market data providers and strategies: deterministic, well-formed, and proposals the API accepts."""

import time

from journal.domain import TIMEFRAME_SECONDS
from journal.engine.market.csv_replay import CsvProvider
from journal.engine.market.simulated import BASE_PRICES, SimulatedProvider
from journal.engine.strategies import STRATEGIES, propose_all


def test_simulated_is_deterministic_and_well_formed():
    a, b = SimulatedProvider(7, 60), SimulatedProvider(7, 60)
    first = a.candles("BTCUSDT", "5m", None, 100)
    assert first == b.candles("BTCUSDT", "5m", first[0].ts, 100)[: len(first)]
    assert len(first) == 100
    now = time.time()
    for candle in first:
        assert candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        assert candle.end <= now + 1e-6  # closed candles only
        assert candle.seconds == TIMEFRAME_SECONDS["5m"] / 60
    assert 0.5 * 65000 < first[-1].close < 2 * 65000
    assert SimulatedProvider(8, 60).candles("BTCUSDT", "5m", None, 5) != a.candles("BTCUSDT", "5m", None, 5)


def test_simulated_has_regimes_and_gaps():
    market = SimulatedProvider(7, 1)
    bars = [market.minute_candle("ETHUSDT", i) for i in range(20000)]
    ranges = [(h - lo) / c for _, h, lo, c, _ in bars]
    assert max(ranges) > 3 * (sum(ranges) / len(ranges))
    gaps = sum(1 for prev, cur in zip(bars, bars[1:], strict=False) if abs(cur[0] / prev[3] - 1) > 0.001)
    assert gaps > 10


def test_csv_sample_replays():
    candles = CsvProvider().candles("BTCUSDT", "1m", None, 50)
    assert len(candles) == 50 and candles == sorted(candles, key=lambda c: c.ts)
    later = CsvProvider().candles("BTCUSDT", "1m", candles[10].ts, 5)
    assert later == candles[10:15]


def test_strategies_propose_orderly_levels():
    market = SimulatedProvider(7, 60)
    seen = set()
    for symbol in list(BASE_PRICES)[:25]:
        candles = market.candles(symbol, "5m", None, 400)
        for end in range(120, 400, 3):
            for proposal in propose_all(candles[end - 120 : end]):
                seen.add(proposal.strategy)
                assert 0 <= proposal.confidence <= 100
                if proposal.side == "buy":
                    assert proposal.stop_loss < proposal.entry < proposal.take_profit
                else:
                    assert proposal.take_profit < proposal.entry < proposal.stop_loss
    assert seen == set(STRATEGIES)
