"""Attacks on sessions and open sockets, against real gunicorn, Celery and Socket.IO clients.

Each test is named after what it stops: a socket outliving its token or its tier, a login flood,
a refresh-token race or replay, a replay flood (from one socket, or by reconnecting), an ack flood,
receipts for another tier's signals, a lost account event, a process holding more than its kind needs.
"""

import os
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
import socketio

from journal.config import ROLES
from journal.embedded import free_port
from journal.socket_limits import ACKS_PER_MINUTE
from journal.socket_sessions import SWEEP_SECONDS
from journal.stream import events
from journal.stream.client import StreamClient
from tests.stack import RECEIVES, wait_until

GUARD = 20  # seconds: a hang guard, not a timing assertion
REFRESH_GRACE = 5  # JWT_REFRESH_GRACE_SECONDS's default, which the stack's web process uses
STRICT_REPLAYS = 5  # SOCKET_REPLAYS_PER_USER_PER_MINUTE of the `strict` web process
STRICT_RECEIPTS = 3  # its RECEIPTS_QUEUE_MAX


@pytest.fixture(scope="module")
def strict(stack):
    """A web process of the same stack with small replay and receipt limits."""
    limits = {
        "SOCKET_REPLAYS_PER_USER_PER_MINUTE": str(STRICT_REPLAYS),
        "RECEIPTS_QUEUE_MAX": str(STRICT_RECEIPTS),
    }
    yield stack.start_web("web-strict", free_port(), limits)
    stack.kill("web-strict")


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def received_tiers(client) -> set[str]:
    return {s["risk_tier"] for s in client.applied}


def test_logout_closes_the_open_socket_of_that_session(hub):
    client = hub.client("high")
    before = hub.post("high")
    assert client.wait_for({before})
    started = time.time()
    resp = requests.post(hub.url + "/api/auth/logout", headers=auth(client.login["access_token"]))
    assert resp.status_code == 200
    assert wait_until(lambda: client.ended, GUARD) == ["revoked"]
    print(f"\nrevoked socket closed {time.time() - started:.2f} s after logout")
    after = hub.post("high")
    time.sleep(1)  # a delivery would arrive now
    assert after not in {s["id"] for s in client.applied}
    client.close()


def test_expired_token_closes_the_socket_unless_it_was_renewed(hub, stack):
    short = stack.start_web("web-short-tokens", free_port(), {"JWT_ACCESS_TOKEN_SECONDS": "3"})
    try:
        lazy = hub.client_of(hub.user("user", "low", short), short)
        keen = hub.client_of(hub.user("user", "low", short), short)
        refresh_token = keen.login["refresh_token"]
        deadline = time.time() + 6
        while time.time() < deadline:  # renew every second, as the dashboard does before expiry
            pair = requests.post(short + "/api/auth/refresh", headers=auth(refresh_token)).json()
            refresh_token = pair["refresh_token"]
            assert keen.renew(pair["access_token"])["ok"]
            time.sleep(1)
        assert wait_until(lambda: lazy.ended, GUARD) == ["expired"]
        assert keen.ended == [] and keen.sio.connected
        sid = hub.post("low")
        assert keen.wait_for({sid})
        lazy.close()
        keen.close()
    finally:
        stack.kill("web-short-tokens")


def test_renew_with_another_users_token_is_refused(hub):
    client = hub.client("low")
    other = hub.user("user", "high")
    assert "error" in client.renew(other["access_token"])
    assert "error" in client.sio.call(events.AUTH_RENEW, {"token": "not-a-token"}, timeout=10)
    client.close()


def test_tier_downgrade_stops_high_signals_live_and_in_replay(hub):
    client = hub.client("high")
    user_id = client.login["user"]["id"]
    first = hub.post("high")
    assert client.wait_for({first})
    hub.patch_user(user_id, risk_tier="low")
    assert wait_until(lambda: client.account_updates, GUARD)[0]["risk_tier"] == "low"
    live = [hub.post(tier) for tier in ("high", "medium", "low", "high", "low")]
    low_ones = {sid for sid in live if hub.posted[sid][0] == "low"}
    assert client.wait_for(low_ones)
    time.sleep(1)  # anything else would arrive now
    got = {s["id"] for s in client.applied}
    assert not (set(live) - low_ones) & got, "a signal above the new tier reached the socket"
    replayed, snapshot = [], []
    sio = socketio.Client(reconnection=False)
    sio.on(events.SIGNALS_BATCH, lambda data: replayed.extend(data["signals"]))
    sio.on(events.SIGNALS_INITIAL, lambda data: snapshot.extend(data["signals"]))
    sio.connect(
        hub.url, auth={"token": client.login["access_token"], "since": None}, transports=["websocket"]
    )
    assert wait_until(lambda: snapshot, GUARD) and {s["risk_tier"] for s in snapshot} == {"low"}
    assert "sent" in sio.call(events.SIGNALS_SYNC, {"since": 0}, timeout=GUARD)
    assert replayed and {s["risk_tier"] for s in replayed} == {"low"}
    sio.disconnect()
    client.close()


def test_disabled_user_is_closed_and_cannot_log_in_or_refresh(hub):
    client = hub.client("medium")
    hub.patch_user(client.login["user"]["id"], disabled=True)
    assert wait_until(lambda: client.ended, GUARD) == ["disabled"]
    email = client.login["user"]["email"]
    login = requests.post(
        hub.url + "/api/auth/login", json={"email": email, "password": client.login["password"]}
    )
    assert login.status_code == 403
    refresh = requests.post(hub.url + "/api/auth/refresh", headers=auth(client.login["refresh_token"]))
    assert refresh.status_code == 401
    assert (
        requests.get(hub.url + "/api/user/me", headers=auth(client.login["access_token"])).status_code == 401
    )
    client.close()


def test_role_change_ends_the_old_tokens(hub):
    admin = hub.user("admin", "high")
    hub.patch_user(admin["user"]["id"], role="user")
    assert (
        requests.get(hub.url + "/api/admin/signals", headers=auth(admin["access_token"])).status_code == 401
    )


def test_login_flood_from_one_address_is_limited_while_delivery_continues(hub, stack):
    limited = stack.start_web("web-limited", free_port(), {"RATELIMIT_ENABLED": "1"})
    try:
        client = hub.client("low", limited)
        statuses: list[int] = []

        def flood() -> None:
            for _ in range(10):
                body = {"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": "guess-guess"}
                statuses.append(requests.post(limited + "/api/auth/login", json=body).status_code)

        flooders = [threading.Thread(target=flood) for _ in range(5)]
        for thread in flooders:
            thread.start()
        posted = [hub.post("low") for _ in range(20)]
        for thread in flooders:
            thread.join()
        assert len(statuses) == 50
        assert statuses.count(429) >= 25, statuses  # the address limit (20 a minute) answers first
        assert 429 in statuses[:25]
        assert client.wait_for(set(posted))
        client.close()
    finally:
        stack.kill("web-limited")


def refresh_with(hub, token: str) -> requests.Response:
    return requests.post(hub.url + "/api/auth/refresh", headers=auth(token))


def me_with(hub, token: str) -> int:
    return requests.get(hub.url + "/api/user/me", headers=auth(token)).status_code


def test_two_concurrent_refreshes_of_one_token_one_wins(hub):
    login = hub.user("user", "low")
    barrier = threading.Barrier(2)
    answers: list[requests.Response] = []

    def refresh() -> None:
        barrier.wait()
        answers.append(refresh_with(hub, login["refresh_token"]))

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 401]
    winner = next(a for a in answers if a.status_code == 200).json()
    assert me_with(hub, winner["access_token"]) == 200  # the loser did not log the user out
    renewed = refresh_with(hub, winner["refresh_token"])
    assert renewed.status_code == 200
    assert me_with(hub, renewed.json()["access_token"]) == 200


def test_reused_refresh_token_revokes_the_whole_session(hub):
    login = hub.user("user", "low")
    rotated = refresh_with(hub, login["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert me_with(hub, new["access_token"]) == 200
    # within the grace window the just-rotated token may be a concurrent refresh that lost: 401 only
    assert refresh_with(hub, login["refresh_token"]).status_code == 401
    assert me_with(hub, new["access_token"]) == 200
    time.sleep(REFRESH_GRACE + 0.5)
    replay = refresh_with(hub, login["refresh_token"])
    assert replay.status_code == 401  # the stolen, already rotated token
    assert me_with(hub, new["access_token"]) == 401
    assert refresh_with(hub, new["refresh_token"]).status_code == 401


def test_sync_flood_from_one_socket_leaves_others_served(hub):
    victim = hub.client("high")
    attacker = hub.user("user", "high")
    # replays of this test's own 30 signals (a replay of every earlier test's would only get the
    # socket dropped as too slow to read them, which protects the others too but tests less)
    before = hub.position(attacker["access_token"])
    for _ in range(30):
        hub.post("high")
    flood = socketio.Client(reconnection=False)
    answers: list[dict] = []
    flood.connect(
        hub.url, auth={"token": attacker["access_token"], "since": 10**15}, transports=["websocket"]
    )
    for _ in range(100):
        flood.emit(events.SIGNALS_SYNC, {"since": before}, callback=answers.append)
    live = [hub.post("high") for _ in range(5)]
    assert victim.wait_for(set(live), GUARD)
    assert requests.get(hub.url + "/healthz", timeout=GUARD).status_code == 200
    assert wait_until(lambda: len(answers) == 100, 3 * GUARD), (
        f"{len(answers)} answers; connected={flood.connected}; {[a for a in answers if 'sent' in a]}"
    )
    served = [a for a in answers if "sent" in a]
    assert len(served) <= 12  # one at a time, at most 12 a minute; the rest are told to retry
    assert all(a.get("retry") for a in answers if "sent" not in a)
    assert len(served) == 12 or "sent" in flood.call(events.SIGNALS_SYNC, {"since": before}, timeout=GUARD)
    flood.disconnect()
    victim.close()


def test_ack_cannot_write_receipts_for_another_tiers_signal(hub, owner):
    low = hub.client("low")
    mine, not_mine = hub.post("low"), hub.post("high")
    assert low.wait_for({mine})
    assert low.sio.call(events.SIGNAL_ACK, {"ids": [mine, not_mine]}, timeout=GUARD) == {"queued": 2}
    user_id = low.login["user"]["id"]

    def receipts() -> set[str]:
        with owner.cursor() as cur:
            cur.execute(
                "SELECT s.signal_id::text FROM user_signals us JOIN signals s ON s.id = us.signal_pk "
                "WHERE us.user_id = %s AND us.delivered_at IS NOT NULL",
                (user_id,),
            )
            return {row[0] for row in cur.fetchall()}

    assert mine in wait_until(receipts, GUARD)
    assert not_mine not in receipts()
    low.close()


def test_each_tier_still_receives_exactly_its_set_after_renewals(hub):
    client = hub.client("medium")
    refresh_token = client.login["refresh_token"]
    ids = []
    for _ in range(3):
        pair = requests.post(hub.url + "/api/auth/refresh", headers=auth(refresh_token)).json()
        refresh_token = pair["refresh_token"]
        assert client.renew(pair["access_token"])["ok"]
        ids += [hub.post(tier) for tier in ("low", "medium", "high")]
    expected = {sid for sid in ids if hub.posted[sid][0] in RECEIVES["medium"]}
    assert client.wait_for(expected)
    assert received_tiers(client) <= RECEIVES["medium"]
    client.close()


def test_reconnect_storm_with_since_0_from_one_user_is_limited_while_others_receive(hub, strict):
    storm = hub.user("user", "high", strict)
    victim = hub.client("high", strict)
    for _ in range(3):
        hub.post("high")  # something to replay
    answers: list[dict] = []
    for _ in range(2 * STRICT_REPLAYS + 1):  # a refusal comes within two minute windows at the latest
        seen: dict = {}
        sio = socketio.Client(reconnection=False)
        sio.on(events.SIGNALS_BATCH, lambda _data, seen=seen: seen.setdefault("batch", True))
        sio.on(events.SESSION_END, lambda data, seen=seen: seen.setdefault("end", data))
        sio.connect(strict, auth={"token": storm["access_token"], "since": 0}, transports=["websocket"])
        assert wait_until(lambda seen=seen: seen, GUARD), "neither a replay nor a refusal: a silent stream"
        answers.append(seen)
        if "end" in seen:
            assert wait_until(lambda sio=sio: not sio.connected, GUARD)  # closed by the server
            break
        sio.disconnect()
    refusal = answers[-1].get("end")
    assert refusal and refusal["reason"] == "busy" and refusal["retry_after"] >= 1, answers
    assert len(answers) > STRICT_REPLAYS  # the first ones of the minute were served
    live = [hub.post("high") for _ in range(3)]
    assert victim.wait_for(set(live), GUARD)  # another user's socket keeps receiving
    # the limited user, reconnecting with a cursor that missed nothing, still gets live signals
    current = StreamClient(strict, storm["access_token"], since=hub.position(storm["access_token"])).connect()
    later = hub.post("high")
    assert current.wait_for({later}, GUARD) and current.ended == []
    current.close()
    victim.close()


def test_ack_flood_from_one_socket_is_limited_and_the_receipts_queue_is_capped(hub, strict, stack):
    login = hub.user("user", "low", strict)
    sio = socketio.Client(reconnection=False)
    sio.connect(strict, auth={"token": login["access_token"], "since": 10**15}, transports=["websocket"])
    answers: list[dict] = []
    ids = [str(uuid.uuid4()) for _ in range(10)]
    flood = 2 * ACKS_PER_MINUTE + 1  # over the limit even if a minute window turns during the flood
    for _ in range(flood):
        sio.emit(events.SIGNAL_ACK, {"ids": ids}, callback=answers.append)
    assert wait_until(lambda: len(answers) == flood, GUARD)
    queued = [a["queued"] for a in answers if "queued" in a]
    assert len(queued) <= 2 * ACKS_PER_MINUTE
    assert any("acks a minute" in a.get("error", "") for a in answers)
    assert max(queued) <= STRICT_RECEIPTS  # ten ids an ack, the queue holds three: the rest dropped
    log = (stack.logdir / "web-strict.log").read_text()
    assert "receipts queue full" in log and "acks over" in log
    sio.disconnect()


def test_lost_account_event_is_made_good_by_the_sweep(hub, owner):
    client = hub.client("high")
    user_id = client.login["user"]["id"]
    with owner.cursor() as cur:  # a tier change whose "account changed" event never arrives
        cur.execute("UPDATE users SET risk_tier = 'low' WHERE id = %s", (user_id,))
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(f"account:{user_id}")
    updates = wait_until(lambda: client.account_updates, SWEEP_SECONDS + GUARD)
    assert updates and updates[0]["risk_tier"] == "low"
    high, low = hub.post("high"), hub.post("low")
    assert client.wait_for({low})
    time.sleep(1)  # a delivery would arrive now
    assert high not in {s["id"] for s in client.applied}
    client.close()


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


# The database URLs each kind of process holds; only web holds the signing keys.
HOLDS = {
    "web": {"DATABASE_URL_APP", "DATABASE_URL_ADMIN"},
    "worker": {"DATABASE_URL_WORKER"},
    "beat": {"DATABASE_URL_WORKER"},
    "relay": {"DATABASE_URL_WORKER"},
}


def test_each_process_holds_only_its_kinds_credentials_and_no_worker_a_signing_key(stack):
    checked = 0
    for name, kind in (("web", "web"), ("worker", "worker"), ("beat", "beat"), ("relay", "relay")):
        if name not in stack.procs:
            continue
        env = environ_of(stack.procs[name].pid)
        assert {k for k in env if k.startswith("DATABASE_URL")} == HOLDS[kind], name
        assert not {password for _, password in ROLES.values()} & set(env), name
        has_keys = {"SECRET_KEY", "JWT_SECRET_KEY"} <= set(env)
        assert has_keys if kind == "web" else not {"SECRET_KEY", "JWT_SECRET_KEY"} & set(env), name
        checked += 1
    assert checked >= 3
