"""Live delivery end to end: gunicorn, Celery worker and beat, Redis, PostgreSQL, Socket.IO clients."""

import random
import statistics
import threading
import time

import pytest
import requests

from journal.embedded import free_port
from tests.conftest import ARTIFACTS
from tests.stack import TIERS, assert_exact


def report(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    ms = [f"p{p}={q[p - 1] * 1000:.1f}ms" for p in (50, 95, 99)]
    line = f"{name}: n={len(latencies)} " + " ".join(ms)
    with open(ARTIFACTS / "latency.txt", "a") as out:
        out.write(line + "\n")
    return line


def test_each_tier_receives_exactly_its_set(hub, owner, capsys):
    clients = {tier: hub.client(tier) for tier in TIERS}
    ids = [hub.post(random.choice(TIERS)) for _ in range(200)]
    latencies = []
    for tier, client in clients.items():
        assert_exact(client, hub.expected(tier, ids))
        latencies += [client.received_at[sid] - hub.posted[sid][1] for sid in hub.expected(tier, ids)]
        client.close()
    with owner.cursor() as cur:
        cur.execute(
            "SELECT s.signal_id::text, extract(epoch FROM o.sequenced_at) FROM outbox o "
            "JOIN signals s ON s.id = o.signal_pk WHERE o.kind = 'signal' AND s.signal_id::text = ANY(%s)",
            (ids,),
        )
        sequenced = dict(cur.fetchall())
    after = [float(sequenced[sid]) - hub.posted[sid][1] for sid in ids]
    received = [
        client.received_at[sid] - float(sequenced[sid])
        for client in clients.values()
        for sid in client.received_at
        if sid in sequenced
    ]
    with capsys.disabled():
        print("\n" + report("post answered->client, 3 clients, 200 signals", latencies))
        print(report("  of which answered->sequenced", after))
        print(report("  of which sequenced->client", received))


def test_reconnect_with_cursor_gets_exactly_the_missed(hub):
    client = hub.client("high")
    before = [hub.post() for _ in range(5)]
    assert client.wait_for(set(before))
    client.disconnect()
    missed = [hub.post() for _ in range(100)]
    client.connect()
    assert client.wait_for(set(missed))
    live = [hub.post() for _ in range(5)]
    assert_exact(client, set(before + missed + live))
    order = [s["id"] for s in client.applied]
    assert order == before + missed + live
    client.close()


def test_snapshot_then_live_has_no_gap(hub):
    client = hub.client("medium", live_from_now=False)
    deadline = time.time() + 10
    while client.last is None and time.time() < deadline:
        time.sleep(0.05)
    assert client.last is not None and len(client.snapshot) <= 50
    ids = [hub.post() for _ in range(20)]
    assert_exact(client, hub.expected("medium", ids))
    client.close()


def test_churn_while_posting(hub):
    clients = {tier: hub.client(tier) for tier in TIERS}
    done = threading.Event()
    ids: list[str] = []

    def post_continuously():
        for _ in range(150):
            ids.append(hub.post())
            time.sleep(0.01)
        done.set()

    poster = threading.Thread(target=post_continuously)
    poster.start()
    while not done.is_set():
        client = random.choice(list(clients.values()))
        client.disconnect()
        time.sleep(random.uniform(0.05, 0.3))
        client.connect()
        time.sleep(random.uniform(0.05, 0.2))
    poster.join()
    for tier, client in clients.items():
        assert_exact(client, hub.expected(tier, ids))
        client.close()


def test_two_web_processes_both_deliver(hub, stack):
    second = stack.start_web("web2", free_port())
    try:
        on_first = {tier: hub.client(tier) for tier in TIERS}
        on_second = {tier: hub.client(tier, url=second) for tier in TIERS}
        ids = [hub.post() for _ in range(60)]
        for tier in TIERS:
            assert_exact(on_first[tier], hub.expected(tier, ids))
            assert_exact(on_second[tier], hub.expected(tier, ids))
    finally:
        for client in list(on_first.values()) + list(on_second.values()):
            client.close()
        stack.kill("web2")


def test_kill_9_relay_and_web_lose_nothing(hub, stack):
    web = stack.start_web("web-victim", free_port())
    clients = {tier: hub.client(tier, url=web) for tier in TIERS}
    ids: list[str] = []
    stop = threading.Event()

    def post_continuously():
        while not stop.is_set():
            ids.append(hub.post())
            time.sleep(0.02)

    poster = threading.Thread(target=post_continuously)
    poster.start()
    try:
        time.sleep(1)
        stack.kill("relay")  # mid-stream: nudges and a relay pass may die with it
        time.sleep(1.5)
        stack.start_relay()
        time.sleep(1)
        stack.kill("web-victim")  # every socket of that process drops
        time.sleep(1)
        stack.restart_web("web-victim")
        time.sleep(1.5)
    finally:
        stop.set()
        poster.join()
    for tier, client in clients.items():
        assert_exact(client, hub.expected(tier, ids))
        client.close()
    stack.kill("web-victim")


def test_receipts_are_written_in_batches(hub, owner):
    client = hub.client("low")
    ids = [hub.post("low") for _ in range(10)]
    assert client.wait_for(set(ids))
    deadline = time.time() + 15
    delivered = 0
    while time.time() < deadline and delivered < 10:
        with owner.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM user_signals us JOIN signals s ON s.id = us.signal_pk "
                "WHERE s.signal_id::text = ANY(%s) AND us.delivered_at IS NOT NULL",
                (ids,),
            )
            delivered = cur.fetchone()[0]
        time.sleep(0.2)
    assert delivered == 10
    client.close()


def test_bad_socket_auth_is_refused(hub, stack):
    import socketio

    user = hub.user("user", "low")
    requests.post(
        hub.url + "/api/auth/logout",
        headers={"Authorization": f"Bearer {user['access_token']}"},
        json={},
    )
    for auth in (
        None,
        {},
        {"token": "nope"},
        {"token": user["access_token"]},
        {"token": user["refresh_token"]},
    ):
        sio = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            sio.connect(hub.url, auth=auth, transports=["websocket"], wait_timeout=5)
    fresh = hub.user("user", "low")
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(
            hub.url,
            auth={"token": fresh["access_token"], "since": "x"},
            transports=["websocket"],
            wait_timeout=5,
        )


def test_socket_events_refuse_bad_input(hub):
    client = hub.client("low")
    sid = hub.post("low")
    assert client.wait_for({sid})
    assert "error" in client.sio.call("signals:sync", {"since": "x"})
    assert "error" in client.sio.call("signals:sync", None)
    assert "error" in client.sio.call("signal:ack", {"ids": "nope"})
    assert client.sio.call("signal:ack", {"ids": [sid, "not-a-uuid"]}) == {"queued": 1}
    assert client.sio.call("signals:sync", {"since": client.last}) == {"sent": 0}
    client.close()
