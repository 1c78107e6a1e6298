"""The outcome evaluator (shared with backtests), its fill rule, and recording an outcome once."""

import pytest

from journal.devstack import signal_body
from journal.domain import OUTCOMES
from journal.engine.evaluate import Levels, Outcome, Progress, advance, evaluate, tick
from journal.engine.market import Candle
from journal.engine.outcomes import record_outcome

T0 = 1_700_000_040.0


def bars(*ohlc, start=T0, seconds=60.0):
    return [Candle(start + i * seconds, o, h, lo, c, 1.0, seconds) for i, (o, h, lo, c) in enumerate(ohlc)]


BUY = Levels("buy", 100.0, 95.0, 110.0, T0)  # entry, stop, target
SELL = Levels("sell", 100.0, 105.0, 90.0, T0)
MID = T0 + 30  # created inside the first candle: a market signal when that candle holds the entry

# (case, levels, candles, finer candles for refine or None, (result, exit price, fill price))
CASES = [
    # the attack: a buy far below a market trading above both entry and target is never filled
    ("entry never reached", BUY, bars((130, 131, 129, 130), (130, 132, 101, 131)), None, None),
    (
        "entry reached, then target",
        BUY,
        bars((104, 105, 99, 103), (103, 111, 102, 109)),
        None,
        ("WIN", 110, 100),
    ),
    ("entry reached, then stop", BUY, bars((104, 105, 99, 101), (101, 102, 94, 96)), None, ("LOSS", 95, 100)),
    (
        "sell entry reached, then target",
        SELL,
        bars((96, 101, 95, 99), (99, 100, 89, 90)),
        None,
        ("WIN", 90, 100),
    ),
    (
        "sell entry reached, then stop",
        SELL,
        bars((97, 101, 96, 100), (100, 106, 99, 104)),
        None,
        ("LOSS", 105, 100),
    ),
    (
        "gap through the entry fills at the open",
        BUY,
        bars((104, 105, 101, 102), (98, 99, 97, 98), (98, 111, 97, 110)),
        None,
        ("WIN", 110, 98),
    ),
    ("gap through entry and stop", BUY, bars((104, 105, 101, 102), (93, 94, 92, 93)), None, ("LOSS", 93, 93)),
    ("entry and stop in one candle", BUY, bars((104, 105, 94, 96)), None, ("LOSS", 95, 100)),
    (
        "entry and stop in one candle, finer candles: a gap fills below the entry",
        BUY,
        bars((104, 105, 94, 96), seconds=120),
        bars((104, 105, 101, 101), (97, 98, 94, 96)),
        ("LOSS", 95, 97),
    ),
    (
        "entry, stop and target in one candle, finer candles: target after the fill",
        BUY,
        bars((104, 112, 94, 100), seconds=300),
        bars(
            (104, 105, 99, 101),
            (101, 112, 100, 111),
            (111, 111, 94, 95),
            (95, 99, 95, 99),
            (99, 100, 99, 100),
        ),
        ("WIN", 110, 100),
    ),
    (
        "entry, stop and target in one candle, finer candles: target before the fill",
        BUY,
        bars((104, 112, 94, 100), seconds=300),
        bars(
            (104, 112, 103, 105),
            (105, 105, 94, 95),
            (95, 99, 95, 99),
            (99, 100, 99, 100),
            (100, 100, 99, 100),
        ),
        ("LOSS", 95, 100),
    ),
    ("entry, stop and target in one candle", BUY, bars((104, 112, 94, 100)), None, ("AMBIGUOUS", 100, 100)),
    ("entry and target, closing past the target", BUY, bars((104, 112, 99, 111)), None, ("WIN", 110, 100)),
    (
        "entry and target, closing short of it: the target may predate the fill",
        BUY,
        bars((104, 112, 99, 101), (101, 102, 94, 95)),
        None,
        ("LOSS", 95, 100),
    ),
    (
        "entry and target in one candle, finer candles show the order",
        BUY,
        bars((104, 112, 99, 101), seconds=180),
        bars((104, 105, 99, 100), (100, 112, 100, 111), (111, 111, 101, 101)),
        ("WIN", 110, 100),
    ),
    (
        "market signal fills at once; its creation candle's moves do not count",
        Levels("buy", 100.0, 95.0, 110.0, MID),
        bars((104, 120, 90, 103), (103, 111, 102, 109)),
        None,
        ("WIN", 110, 100),
    ),
    (
        "entry outside the creation candle: no market fill",
        Levels("buy", 100.0, 95.0, 110.0, MID),
        bars((104, 106, 101, 103), (103, 111, 102, 109)),
        None,
        None,
    ),
    (
        "TP first (buy)",
        BUY,
        bars((100, 104, 99, 103), (103, 111, 102, 109), (109, 109, 90, 91)),
        None,
        ("WIN", 110, 100),
    ),
    ("SL first (buy)", BUY, bars((100, 101, 94, 96), (96, 120, 96, 118)), None, ("LOSS", 95, 100)),
    ("TP first (sell)", SELL, bars((100, 101, 95, 96), (96, 97, 89, 90)), None, ("WIN", 90, 100)),
    ("SL first (sell)", SELL, bars((100, 106, 99, 104)), None, ("LOSS", 105, 100)),
    ("both in one candle", BUY, bars((100, 112, 94, 100)), None, ("AMBIGUOUS", 100, 100)),
    ("gap through the stop", BUY, bars((100, 101, 99, 100), (90, 92, 89, 91)), None, ("LOSS", 90, 100)),
    ("gap through the target", BUY, bars((100, 101, 99, 100), (115, 116, 114, 115)), None, ("WIN", 115, 100)),
    (
        "missing candle",
        BUY,
        bars((100, 101, 99, 100)) + bars((100, 120, 99, 119), start=T0 + 180),
        None,
        ("DATA_GAP", None, 100),
    ),
    ("undecided", BUY, bars((100, 101, 99, 100), (100, 102, 98, 101)), None, None),
]


@pytest.mark.parametrize(("case", "levels", "candles", "finer", "expected"), CASES, ids=[c[0] for c in CASES])
def test_evaluate(case, levels, candles, finer, expected):
    outcome = evaluate(levels, candles, refine=(lambda candle: finer) if finer else None)
    assert (outcome and (outcome.result, outcome.price, outcome.fill_price)) == expected


def test_entry_never_reached_before_expiry_is_not_filled():
    candles = bars((130, 131, 129, 130), (130, 132, 101, 131), (131, 131, 99, 100))
    outcome = evaluate(Levels("buy", 100.0, 95.0, 110.0, T0, T0 + 120), candles)
    assert outcome == Outcome("NOT_FILLED", None, T0 + 120)


def test_expiry_before_any_hit():
    candles = bars((100, 101, 99, 100), (100, 102, 98, 101), (101, 112, 100, 111))
    outcome = evaluate(Levels("buy", 100.0, 95.0, 110.0, T0, T0 + 120), candles)
    assert outcome == Outcome("EXPIRED", 101, T0 + 120, 100)


def test_expired_with_no_prices_is_a_data_gap():
    levels = Levels("buy", 100.0, 95.0, 110.0, T0, T0 + 60)
    assert evaluate(levels, [], now=T0 + 3600).result == "DATA_GAP"
    assert evaluate(levels, [], now=T0 + 61) is None


def test_candles_closed_before_creation_do_not_count():
    candles = bars((100, 120, 80, 100), (100, 101, 99, 100))
    assert evaluate(Levels("buy", 100.0, 95.0, 110.0, T0 + 60), candles) is None


def test_finer_candles_settle_an_ambiguous_one():
    coarse = bars((100, 112, 94, 100), seconds=120)
    fine = bars((100, 111, 99, 110), (110, 110, 94, 95), seconds=60)
    assert evaluate(BUY, coarse, refine=lambda c: fine).result == "WIN"


def test_finer_candles_that_do_not_cover_the_candle_are_not_used():
    coarse = bars((100, 112, 94, 100), seconds=300)
    fine = bars((100, 111, 99, 110), (110, 110, 94, 95), seconds=60)  # 2 of 5 minutes
    assert evaluate(BUY, coarse, refine=lambda c: fine).result == "AMBIGUOUS"


def test_progress_resumes_where_the_last_pass_stopped():
    candles = bars((104, 105, 99, 103), (103, 106, 102, 105), (105, 111, 104, 109))
    progress, outcome = advance(BUY, Progress(), candles[:2])
    assert outcome is None and progress == Progress(until=T0 + 120, fill_price=100, last_close=105)
    progress, outcome = advance(BUY, progress, candles)  # consumed candles are skipped, not re-read
    assert outcome == Outcome("WIN", 110, T0 + 180, 100)
    assert advance(BUY, Progress(until=T0 + 60), candles[2:])[1].result == "DATA_GAP"


def test_live_tick_fills_then_settles_but_never_before_the_fill():
    unfilled, filled = Progress(until=T0 + 60), Progress(until=T0 + 60, fill_price=100.0)
    assert tick(BUY, unfilled, 111.0, T0 + 90) is None  # the target without a fill is nothing
    assert tick(BUY, unfilled, 99.0, T0 + 90) is None  # filled at 99, nothing decided yet
    assert tick(BUY, unfilled, 94.0, T0 + 90) == Outcome("LOSS", 94.0, T0 + 90, 94.0)
    assert tick(BUY, filled, 111.0, T0 + 90) == Outcome("WIN", 111.0, T0 + 90, 100.0)
    assert tick(Levels("buy", 100.0, 95.0, 110.0, T0, T0 + 60), filled, 111.0, T0 + 90) is None  # expired


def test_recorded_once(client, bearer, worker_app, owner):
    signal = client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high")).json
    with owner.cursor() as cur:
        cur.execute("SELECT id, created_at FROM signals WHERE signal_id = %s", (signal["id"],))
        pk, created_at = cur.fetchone()
    with worker_app.app_context():
        from journal.extensions import db

        first = record_outcome(db.engine, pk, created_at, Outcome("WIN", 67000.0, T0, 65000.0))
        second = record_outcome(db.engine, pk, created_at, Outcome("LOSS", 64000.0, T0 + 60, 65000.0))
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
    from journal.engine.backtest import backtest
    from journal.engine.market.simulated import SimulatedProvider

    result = backtest(SimulatedProvider(7, 1), "BTCUSDT", "5m", 1500)
    assert result["trades"] > 0
    assert sum(result["results"].values()) == result["trades"]
    assert set(result["results"]) <= set(OUTCOMES)
    assert result["not_filled"] == result["results"].get("NOT_FILLED", 0)
