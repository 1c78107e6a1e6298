"""The outcome evaluator (shared with backtests) and recording an outcome once."""

import pytest

from journal.market import Candle
from journal.outcomes import Outcome, evaluate, record_outcome
from tests.conftest import signal_body

T0 = 1_700_000_040.0


def bars(*ohlc, start=T0, seconds=60.0):
    return [Candle(start + i * seconds, o, h, lo, c, 1.0, seconds) for i, (o, h, lo, c) in enumerate(ohlc)]


BUY = ("buy", 95.0, 110.0)  # side, stop, target for an entry near 100
SELL = ("sell", 105.0, 90.0)

CASES = [
    (
        "TP first (buy)",
        BUY,
        bars((100, 104, 99, 103), (103, 111, 102, 109), (109, 109, 90, 91)),
        "WIN",
        110.0,
    ),
    ("SL first (buy)", BUY, bars((100, 101, 94, 96), (96, 120, 96, 118)), "LOSS", 95.0),
    ("TP first (sell)", SELL, bars((100, 101, 95, 96), (96, 97, 89, 90)), "WIN", 90.0),
    ("SL first (sell)", SELL, bars((100, 106, 99, 104)), "LOSS", 105.0),
    ("both in one candle", BUY, bars((100, 112, 94, 100)), "AMBIGUOUS", 100.0),
    ("gap through the stop", BUY, bars((100, 101, 99, 100), (90, 92, 89, 91)), "LOSS", 90.0),
    ("gap through the target", BUY, bars((100, 101, 99, 100), (115, 116, 114, 115)), "WIN", 115.0),
    (
        "missing candle",
        BUY,
        bars((100, 101, 99, 100)) + bars((100, 120, 99, 119), start=T0 + 180),
        "DATA_GAP",
        None,
    ),
    ("undecided", BUY, bars((100, 101, 99, 100), (100, 102, 98, 101)), None, None),
]


@pytest.mark.parametrize(("case", "levels", "candles", "result", "price"), CASES, ids=[c[0] for c in CASES])
def test_evaluate(case, levels, candles, result, price):
    side, stop, target = levels
    outcome = evaluate(side, stop, target, T0, None, candles)
    assert (outcome.result if outcome else None) == result
    if outcome:
        assert outcome.price == price


def test_expiry_before_any_hit():
    candles = bars((100, 101, 99, 100), (100, 102, 98, 101), (101, 112, 100, 111))
    outcome = evaluate("buy", 95.0, 110.0, T0, T0 + 120, candles)
    assert outcome == Outcome("EXPIRED", 101, T0 + 120)


def test_expired_with_no_prices_is_a_data_gap():
    assert evaluate("buy", 95.0, 110.0, T0, T0 + 60, [], now=T0 + 3600).result == "DATA_GAP"
    assert evaluate("buy", 95.0, 110.0, T0, T0 + 60, [], now=T0 + 61) is None


def test_candles_before_creation_do_not_count():
    candles = bars((100, 120, 80, 100), (100, 101, 99, 100))
    assert evaluate("buy", 95.0, 110.0, T0 + 30, None, candles) is None


def test_finer_candles_settle_an_ambiguous_one():
    coarse = bars((100, 112, 94, 100), seconds=300)
    fine = bars((100, 111, 99, 110), (110, 110, 94, 95), seconds=60)
    assert evaluate("buy", 95.0, 110.0, T0, None, coarse, refine=lambda c: fine).result == "WIN"


def test_recorded_once(client, bearer, worker_app, owner):
    signal = client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high")).json
    with owner.cursor() as cur:
        cur.execute("SELECT id FROM signals WHERE signal_id = %s", (signal["id"],))
        pk = cur.fetchone()[0]
    with worker_app.app_context():
        from journal.extensions import db

        first = record_outcome(db.engine, pk, Outcome("WIN", 67000.0, T0))
        second = record_outcome(db.engine, pk, Outcome("LOSS", 64000.0, T0 + 60))
    assert first["outcome"] == "WIN" and first["outcome_price"] == "67000"
    assert second is None
    with owner.cursor() as cur:
        cur.execute("SELECT outcome, outcome_price FROM signals WHERE id = %s", (pk,))
        assert cur.fetchone() == ("WIN", 67000)


def test_manual_settlement_once(client, bearer):
    admin = bearer("admin", "high")
    signal = client.post("/api/hub/signals", json=signal_body(), headers=admin).json
    url = f"/api/hub/signals/{signal['id']}/outcome"
    assert client.patch(url, json={"outcome": "MAYBE"}, headers=admin).status_code == 422
    assert client.patch(url, json={"outcome": "WIN"}, headers=bearer("user", "high")).status_code == 403
    done = client.patch(url, json={"outcome": "LOSS", "price": "64000"}, headers=admin)
    assert done.status_code == 200 and done.json["outcome"] == "LOSS"
    assert client.patch(url, json={"outcome": "WIN"}, headers=admin).status_code == 409


def test_backtest_uses_the_same_evaluator(worker_app):
    from journal.backtest import backtest
    from journal.market.simulated import SimulatedProvider

    result = backtest(SimulatedProvider(7, 1), "BTCUSDT", "5m", 1500)
    assert result["trades"] > 0
    assert sum(result["results"].values()) == result["trades"]
    assert set(result["results"]) <= {"WIN", "LOSS", "EXPIRED", "AMBIGUOUS", "DATA_GAP"}
