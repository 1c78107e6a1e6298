"""Attacks on sessions and open sockets, against real gunicorn, Celery and Socket.IO clients.

Each test is named after what it stops: a socket outliving its token or its tier, a login flood,
a refresh-token race or replay, a replay flood, receipts for another tier's signals.
"""

import threading
import time
import uuid

import requests
import socketio

from journal.embedded import free_port
from journal.stream import events
from tests.stack import RECEIVES, wait_until

GUARD = 20  # seconds: a hang guard, not a timing assertion


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


def test_two_concurrent_refreshes_of_one_token_one_wins(hub):
    login = hub.user("user", "low")
    barrier = threading.Barrier(2)
    answers: list[requests.Response] = []

    def refresh() -> None:
        barrier.wait()
        answers.append(requests.post(hub.url + "/api/auth/refresh", headers=auth(login["refresh_token"])))

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 401]


def test_reused_refresh_token_revokes_the_whole_session(hub):
    login = hub.user("user", "low")
    rotated = requests.post(hub.url + "/api/auth/refresh", headers=auth(login["refresh_token"]))
    assert rotated.status_code == 200
    new = rotated.json()
    assert requests.get(hub.url + "/api/user/me", headers=auth(new["access_token"])).status_code == 200
    replay = requests.post(hub.url + "/api/auth/refresh", headers=auth(login["refresh_token"]))
    assert replay.status_code == 401  # the stolen, already rotated token
    assert requests.get(hub.url + "/api/user/me", headers=auth(new["access_token"])).status_code == 401
    assert requests.post(hub.url + "/api/auth/refresh", headers=auth(new["refresh_token"])).status_code == 401


def test_sync_flood_from_one_socket_leaves_others_served(hub):
    victim = hub.client("high")
    attacker = hub.user("user", "high")
    for _ in range(30):
        hub.post("high")
    flood = socketio.Client(reconnection=False)
    answers: list[dict] = []
    flood.connect(
        hub.url, auth={"token": attacker["access_token"], "since": 10**15}, transports=["websocket"]
    )
    for _ in range(100):
        flood.emit(events.SIGNALS_SYNC, {"since": 0}, callback=answers.append)
    live = [hub.post("high") for _ in range(5)]
    assert victim.wait_for(set(live), GUARD)
    assert requests.get(hub.url + "/healthz", timeout=GUARD).status_code == 200
    assert wait_until(lambda: len(answers) == 100, GUARD)
    served = [a for a in answers if "sent" in a]
    assert len(served) <= 12  # one at a time, at most 12 a minute; the rest are told to retry
    assert all(a.get("retry") for a in answers if "sent" not in a)
    assert len(served) == 12 or "sent" in flood.call(events.SIGNALS_SYNC, {"since": 0}, timeout=GUARD)
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
