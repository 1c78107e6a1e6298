"""The 24/7 engine with a real Celery worker and beat: generation, outcomes, statistics, restarts."""

import time

import pytest
import requests

from journal.devstack import signal_body
from journal.engine.market.simulated import SimulatedProvider
from tests.conftest import launch_stack
from tests.stack import wait_until

ENGINE_ENV = {
    "GENERATION_SECONDS": "3",
    "OUTCOME_SECONDS": "1",
    "MARKET_CANDLE_SCALE": "60",  # a "1m" candle lasts a second, a "5m" one five
    "GENERATION_MIN_CONFIDENCE": "0",
    "GENERATION_COOLDOWN_SECONDS": "5",
}


@pytest.fixture(scope="module")
def engine(services, worker_app, admin_app, tmp_path_factory):
    from tests.stack import Hub

    stack = launch_stack(worker_app, tmp_path_factory.mktemp("engine-logs"), ENGINE_ENV)
    stack.hub = Hub(stack.url, admin_app)
    yield stack
    stack.stop()


SEQUENCED = "id IN (SELECT signal_pk FROM outbox WHERE kind = 'signal' AND seq IS NOT NULL)"


def recount(owner) -> dict:
    with owner.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE outcome = 'WIN'), "
            "count(*) FILTER (WHERE outcome = 'LOSS'), count(*) FILTER (WHERE outcome = 'EXPIRED') "
            f"FROM signals WHERE {SEQUENCED}"
        )
        total, wins, losses, expired = cur.fetchone()
        cur.execute(f"SELECT risk_tier, count(*) FROM signals WHERE {SEQUENCED} GROUP BY 1")
        by_tier = dict(cur.fetchall())
    return {"total": total, "wins": wins, "losses": losses, "expired": expired, "by_tier": by_tier}


def hub_stats(engine) -> dict:
    return engine.hub.http.get(engine.url + "/api/hub/stats").json()


def test_generated_signals_reach_a_socket_and_get_outcomes(engine, owner):
    client = engine.hub.client("high")
    engine_signals = wait_until(lambda: [s for s in client.applied if s["source"] == "engine"])
    assert engine_signals, "no generated signal reached the client"
    first = engine_signals[0]
    assert first["strategy"] in {"trend", "mean_reversion", "breakout"} and first["payload"]["reason"]
    # A signal with levels close to the current simulated price settles within seconds.
    price = SimulatedProvider(7, 60).candles("ETHUSDT", "1m", None, 1)[-1].close
    body = signal_body(
        symbol="ETHUSDT",
        risk_tier="medium",
        entry_price=f"{price:.2f}",
        stop_loss=f"{price * 0.999:.2f}",
        take_profit=f"{price * 1.001:.2f}",
    )
    posted = engine.hub.http.post(engine.url + "/api/admin/signals", json=body).json()
    outcome = wait_until(lambda: [o for o in client.outcomes if o["id"] == posted["id"]])
    assert outcome and outcome[0]["outcome"] in {"WIN", "LOSS", "AMBIGUOUS"}
    with owner.cursor() as cur:
        cur.execute("SELECT outcome FROM signals WHERE signal_id = %s", (posted["id"],))
        assert cur.fetchone()[0] == outcome[0]["outcome"]
    client.close()


def settled_stats_match(engine, owner) -> bool:
    stats, truth = hub_stats(engine), recount(owner)
    same = all(stats[k] == truth[k] for k in ("total", "wins", "losses", "expired"))
    return same and {t: v["total"] for t, v in stats["by_tier"].items()} == truth["by_tier"]


def pause_engine(engine) -> None:
    engine.kill("beat")
    time.sleep(2)  # let the worker finish what beat already sent


def test_stats_equal_a_recount_and_survive_restarts(engine, owner):
    pause_engine(engine)
    assert wait_until(lambda: settled_stats_match(engine, owner), timeout=15)
    before = hub_stats(engine)
    engine.kill("worker")
    engine.start_worker()
    engine.start_beat()
    assert wait_until(lambda: hub_stats(engine)["total"] > before["total"], timeout=45)
    after = hub_stats(engine)
    assert after["running_since"] == before["running_since"]
    for key in ("total", "wins", "losses", "expired"):
        assert after[key] >= before[key]
    pause_engine(engine)
    assert wait_until(lambda: settled_stats_match(engine, owner), timeout=15)
    engine.start_beat()


def test_two_beats_do_not_double_the_schedule(engine, owner, services):
    import redis

    cache = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    engine.start_beat("beat2")
    time.sleep(3)  # both beats up: one holds the lock
    runs_before = int(cache.hget("metrics:task_runs", "journal.push_stats") or 0)
    started = time.time()
    time.sleep(12)
    runs = int(cache.hget("metrics:task_runs", "journal.push_stats") or 0) - runs_before
    elapsed = time.time() - started
    assert 0 < runs <= elapsed + 4  # once a second (two beats would make it about twice elapsed)
    engine.kill("beat2")
    with owner.cursor() as cur:
        cur.execute(
            "SELECT dedup_key, count(*) FROM signals WHERE source = 'engine' GROUP BY 1 HAVING count(*) > 1"
        )
        assert cur.fetchall() == []  # one signal per strategy, symbol and candle


def test_hub_signals_api(engine):
    http = engine.hub.http
    page = http.get(engine.url + "/api/hub/signals?limit=5&source=engine").json()
    assert len(page["signals"]) == 5 and all(s["source"] == "engine" for s in page["signals"])
    nxt = http.get(engine.url + f"/api/hub/signals?limit=5&source=engine&cursor={page['next_cursor']}").json()
    assert not {s["id"] for s in page["signals"]} & {s["id"] for s in nxt["signals"]}
    assert http.get(engine.url + "/api/hub/signals?outcome=NOPE").status_code == 422
    user = engine.hub.user("user", "low")
    mine = requests.get(
        engine.url + "/api/hub/signals?limit=200", headers={"Authorization": f"Bearer {user['access_token']}"}
    ).json()
    assert all(s["risk_tier"] == "low" for s in mine["signals"])
