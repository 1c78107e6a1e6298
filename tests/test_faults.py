"""Faults an operator meets every week, on a stack with servers of its own (tests/world.py).

Each test reports what clients lost, applied twice or got out of order (all must be 0), and the
statuses writers saw (503 with Retry-After is an answer; 500 never is).
"""

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
import requests

from journal.devstack import signal_body
from tests.stack import TIERS, assert_exact, assert_outcomes, wait_until
from tests.world import World

GUARD = 30  # seconds: hang guards, not timing assertions


# Levels the simulated market never reaches: the world's engine (beat) settles no signal of these
# tests by itself, so each test's clients get exactly the outcomes the test records.
WIDE = {"stop_loss": "30000", "take_profit": "130000"}


@pytest.fixture(scope="module")
def world():
    # Not under pytest's tmp dir: a pytest run elsewhere on the machine resets that to mode 0700,
    # which PostgreSQL (running as pgserver's user when we are root) then cannot enter.
    base = Path(tempfile.mkdtemp(prefix="journal-world-"))
    base.chmod(0o755)
    world = World(base, env={"READY_RELAY_LAG_SECONDS": "2"})
    yield world
    world.stop()
    shutil.rmtree(base, ignore_errors=True) if not os.environ.get("KEEP_WORLD") else None


def post_steadily(
    world: World, stop: threading.Event, ids: list[str], statuses: list[int]
) -> threading.Thread:
    def run() -> None:
        tiers = iter(TIERS * 10_000)
        while not stop.is_set():
            ids.append(world.post_until_stored(next(tiers), statuses))
            if len(ids) % 5 == 0:  # outcomes travel the same stream
                world.hub.settle(ids[-3])
            time.sleep(0.1)  # about 10 posts a second

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def heard_since(world: World, url: str, since: float) -> bool:
    """Whether the web process at `url` heard its canary through Redis after `since`."""
    try:
        part = world.hub.http.get(url + "/api/health", timeout=5).json()["parts"]["message_queue"]
    except (requests.RequestException, KeyError, ValueError):
        return False
    return "canary_heard_seconds_ago" in part and time.time() - part["canary_heard_seconds_ago"] > since


def report(name: str, statuses: list[int]) -> None:
    print(f"\n{name}: writers saw {dict(Counter(statuses))}")


def assert_refused_for_now(world: World) -> None:
    """A post during the outage answers 503 with Retry-After (and the retry below stores it once)."""
    resp = world.hub.http.post(
        world.urls[0] + "/api/admin/signals",
        json=signal_body(risk_tier="low", **WIDE),
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=GUARD,
    )
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0, resp.text


def assert_still_delivers(world: World) -> None:
    """After the fault, a new client of every web process receives a new signal (the relay and
    every process's listener recovered; not only the clients that were connected through it)."""
    clients = [world.hub.client("high", url=url) for url in world.urls]
    sid = world.hub.post("high", **WIDE)
    for client in clients:
        assert_exact(client, {sid})
        client.close()


def test_redis_restart_under_load_loses_nothing_and_every_web_process_hears_again(world):
    clients = {tier: world.hub.client(tier) for tier in TIERS}
    late = world.hub.client("high", url=world.urls[1])
    ids, statuses, stop = [], [], threading.Event()
    poster = post_steadily(world, stop, ids, statuses)
    try:
        time.sleep(2)
        world.servers.stop_redis()
        assert wait_until(lambda: not any(world.ready(url) for url in world.urls), GUARD)
        assert_refused_for_now(world)
        time.sleep(2)  # writers meet the outage
        world.servers.redis_proc = world.servers.start_redis()
        back = time.time()
        assert wait_until(lambda: all(heard_since(world, url, back) for url in world.urls), GUARD)
        print(f"\nevery web process heard its canary again {time.time() - back:.1f} s after Redis returned")
        assert all(world.ready(url) for url in world.urls)
        time.sleep(2)
    finally:
        stop.set()
        poster.join()
    report("Redis restart", statuses)
    for tier, client in clients.items():
        assert_exact(client, world.hub.expected(tier, ids))
        assert_outcomes(client, world.hub.expected_outcomes(tier))
    assert_exact(late, world.hub.expected("high", ids))
    for client in [*clients.values(), late]:
        client.close()
    assert 500 not in statuses
    assert_still_delivers(world)


def test_readyz_names_redis_while_it_is_down_in_every_web_process(world):
    world.servers.stop_redis()
    try:
        for url in world.urls:
            resp = requests.get(url + "/readyz", timeout=GUARD)
            assert resp.status_code == 503 and "redis" in resp.json()["failing"]
        resp = world.hub.http.get(world.urls[0] + "/api/user/me", timeout=GUARD)
        assert resp.status_code == 503 and resp.headers["Retry-After"]
    finally:
        world.servers.redis_proc = world.servers.start_redis()
    assert wait_until(lambda: all(world.ready(url) for url in world.urls), GUARD)
    assert_still_delivers(world)


def test_a_web_process_that_stops_hearing_the_queue_turns_unready_until_it_hears_again(world):
    # Redis answers reads but holds every write (PUBLISH included) for 14 s: the processes' canaries
    # cannot go through, though Redis itself looks up.
    redis.Redis.from_url(world.servers.redis_url).execute_command("CLIENT", "PAUSE", "14000", "WRITE")

    def failing() -> list[str]:
        return requests.get(world.urls[0] + "/readyz", timeout=GUARD).json().get("failing", [])

    assert wait_until(lambda: failing() == ["message_queue"], GUARD)
    assert wait_until(lambda: all(world.ready(url) for url in world.urls), GUARD)
    assert_still_delivers(world)


def test_a_stopped_relay_turns_every_web_process_unready_until_it_is_back(world):
    client = world.hub.client("low")
    world.stack.kill("relay")
    try:
        sid = world.hub.post("low", **WIDE)  # stored (201); nothing sequences it while the relay is away

        def failing(url: str) -> list[str]:
            return requests.get(url + "/readyz", timeout=GUARD).json().get("failing", [])

        assert wait_until(lambda: all(failing(url) == ["relay"] for url in world.urls), GUARD)
    finally:
        world.stack.start_relay()
    assert wait_until(lambda: all(world.ready(url) for url in world.urls), GUARD)
    assert_exact(client, {sid})
    client.close()


def test_a_signal_published_while_web_processes_were_unsubscribed_still_reaches_their_clients(world):
    # Redis pub/sub keeps nothing for a subscriber that is away, and no later signal follows to
    # reveal the gap: each web process must send what it missed once it has subscribed again.
    clients = [world.hub.client("high", url=url) for url in world.urls]
    admin = redis.Redis.from_url(world.servers.redis_url)
    stop, killing = threading.Event(), threading.Event()

    def keep_killing_subscribers() -> None:
        while not stop.is_set():
            admin.client_kill_filter(_type="pubsub")
            killing.set()
            time.sleep(0.02)

    killer = threading.Thread(target=keep_killing_subscribers)
    killer.start()
    try:
        killing.wait(GUARD)
        sid = world.hub.post("high", **WIDE)
        with world.owner() as conn, conn.cursor() as cur:
            published = (
                "SELECT o.seq <= (SELECT emitted_upto FROM relay_state) FROM outbox o "
                "JOIN signals s ON s.id = o.signal_pk WHERE o.kind = 'signal' AND s.signal_id = %s"
            )
            assert wait_until(lambda: cur.execute(published, (sid,)) or cur.fetchone()[0])
        time.sleep(1)
    finally:
        stop.set()
        killer.join()
    for client in clients:
        assert_exact(client, {sid})
        client.close()


def test_postgres_immediate_restart_answers_503_then_stores_and_delivers_every_201(world):
    clients = {tier: world.hub.client(tier) for tier in TIERS}
    ids, statuses, stop = [], [], threading.Event()
    poster = post_steadily(world, stop, ids, statuses)
    try:
        time.sleep(2)
        world.servers.stop_postgres_immediately()
        during = world.hub.http.get(world.urls[0] + "/api/user/signals", timeout=GUARD)
        assert during.status_code == 503 and during.headers["Retry-After"]
        for url in world.urls:
            assert "database" in requests.get(url + "/readyz", timeout=GUARD).json()["failing"]
        assert_refused_for_now(world)
        time.sleep(2)  # writers meet the outage
        world.servers.pg_proc = world.servers.start_postgres()
        time.sleep(3)
    finally:
        stop.set()
        poster.join()
    report("PostgreSQL immediate restart", statuses)
    with world.owner() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM signals WHERE signal_id::text = ANY(%s)", (ids,))
        assert cur.fetchone()[0] == len(set(ids)) == len(ids)
    for tier, client in clients.items():
        assert_exact(client, world.hub.expected(tier, ids))
        assert_outcomes(client, world.hub.expected_outcomes(tier) & set(ids))
        client.close()
    assert 500 not in statuses
    assert_still_delivers(world)


def test_client_away_while_a_signal_settles_gets_the_outcome_through_its_cursor(world):
    client = world.hub.client("medium")
    sid = world.hub.post("medium", **WIDE)
    assert client.wait_for({sid})
    client.disconnect()
    settled = world.hub.http.patch(
        f"{world.hub.url}/api/hub/signals/{sid}/outcome", json={"outcome": "WIN", "price": "67000"}
    )
    assert settled.status_code == 200
    time.sleep(1)  # the outcome is emitted while the client is away
    client.connect()
    assert wait_until(lambda: [o for o in client.outcomes if o["id"] == sid], GUARD)
    assert [o["outcome"] for o in client.outcomes if o["id"] == sid] == ["WIN"]
    client.close()


def test_an_event_that_cannot_be_encoded_is_set_aside_and_the_stream_goes_on(world):
    client = world.hub.client("low")
    with world.owner() as conn, conn.cursor() as cur:  # what the API refuses, written behind its back
        cur.execute(
            "WITH s AS (INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
            "payload, dedup_key) VALUES ('BTCUSDT', 'buy', 100, 90, 120, 'low', '{\"x\": 1e400}', "
            "'poison:' || gen_random_uuid()) RETURNING id, created_at, risk_tier) "
            "INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
            "SELECT id, created_at, 'signal', risk_tier FROM s "
            "RETURNING id"
        )
        poison = cur.fetchone()[0]
    late = world.hub.client("low", live_from_now=False)  # connects after it: a snapshot, then live
    after = [world.hub.post("low", **WIDE) for _ in range(5)]
    assert_exact(client, set(after))
    assert_exact(late, set(after))
    with world.owner() as conn, conn.cursor() as cur:
        cur.execute("SELECT seq, failed_at IS NOT NULL, error FROM outbox WHERE id = %s", (poison,))
        seq, failed, error = cur.fetchone()
    # 1e400 is stored as 401 digits, more than any reader's JSON decoder takes
    assert seq is None and failed and "JSONDecodeError" in error
    health = world.hub.http.get(world.urls[0] + "/api/health").json()
    assert health["parts"]["database"]["events_set_aside"] == 1
    client.close()
    late.close()
