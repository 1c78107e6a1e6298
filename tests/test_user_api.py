"""GET /api/user/signals and the caller's own state: tier matching, pages, taken and journal."""

import uuid

import pytest

from journal.devstack import signal_body

RECEIVES = {"low": {"low"}, "medium": {"low", "medium"}, "high": {"low", "medium", "high"}}


def all_pages(client, headers):
    signals, cursor = [], None
    while True:
        url = "/api/user/signals?limit=200" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).json
        signals += body["signals"]
        cursor = body["next_cursor"]
        if cursor is None:
            return signals, body


@pytest.fixture
def admin(bearer):
    return bearer("admin", "high")


def test_each_tier_sees_exactly_its_signals(client, admin, bearer, relay):
    mark = uuid.uuid4().hex
    posted = {}
    for tier in ("low", "medium", "high", "low", "high", "medium"):
        body = signal_body(risk_tier=tier, payload={"mark": mark})
        posted[client.post("/api/admin/signals", json=body, headers=admin).json["id"]] = tier
    relay()
    for tier, receives in RECEIVES.items():
        signals, _ = all_pages(client, bearer("user", tier))
        mine = {s["id"] for s in signals if s["payload"].get("mark") == mark}
        assert mine == {sid for sid, t in posted.items() if t in receives}
        assert all(s["risk_tier"] in receives for s in signals)


def test_pages_are_newest_first_and_carry_the_stream_position(client, admin, bearer, relay):
    for _ in range(5):
        client.post("/api/admin/signals", json=signal_body(), headers=admin)
    relay()
    headers = bearer("user", "low")
    first = client.get("/api/user/signals?limit=3", headers=headers).json
    seqs = [s["seq"] for s in first["signals"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 3
    assert first["stream_seq"] >= seqs[0]
    second = client.get(f"/api/user/signals?limit=3&cursor={first['next_cursor']}", headers=headers).json
    assert max(s["seq"] for s in second["signals"]) < min(seqs)
    assert client.get("/api/user/signals?limit=0", headers=headers).status_code == 422
    assert client.get("/api/user/signals?cursor=abc", headers=headers).status_code == 422


def test_taken_and_journal_are_the_callers_own(client, admin, bearer, relay, make_user, login):
    signal = client.post("/api/admin/signals", json=signal_body(payload={}), headers=admin).json
    relay()
    alice = {"Authorization": "Bearer " + login(make_user("user", "low"))["access_token"]}
    bob = bearer("user", "low")
    taken = client.post(f"/api/user/signals/{signal['id']}/taken", headers=alice)
    assert taken.status_code == 200 and taken.json["mine"]["taken_at"]
    again = client.post(f"/api/user/signals/{signal['id']}/taken", headers=alice)
    assert again.json["mine"]["taken_at"] == taken.json["mine"]["taken_at"]
    noted = client.post(
        f"/api/user/signals/{signal['id']}/journal", json={"notes": "entered at 65,010"}, headers=alice
    )
    assert noted.status_code == 200 and noted.json["mine"]["notes"] == "entered at 65,010"
    mine = {s["id"]: s for s in all_pages(client, alice)[0]}
    theirs = {s["id"]: s for s in all_pages(client, bob)[0]}
    assert mine[signal["id"]]["mine"]["notes"] == "entered at 65,010"
    assert theirs[signal["id"]]["mine"] == {
        "delivered_at": None,
        "taken_at": None,
        "journaled_at": None,
        "notes": None,
    }


def test_journal_validation_and_other_tiers(client, admin, bearer, relay):
    high_only = client.post("/api/admin/signals", json=signal_body(risk_tier="high"), headers=admin).json
    relay()
    low = bearer("user", "low")
    assert client.post(f"/api/user/signals/{high_only['id']}/taken", headers=low).status_code == 404
    assert client.post("/api/user/signals/nope/taken", headers=low).status_code == 404
    high = bearer("user", "high")
    for body, field in (({}, "notes"), ({"notes": ""}, "notes"), ({"notes": "x", "extra": 1}, "extra")):
        resp = client.post(f"/api/user/signals/{high_only['id']}/journal", json=body, headers=high)
        assert resp.status_code == 422 and field in resp.json["fields"]


def test_personal_stats_count_what_the_feed_shows(client, admin, bearer, relay):
    client.post("/api/admin/signals", json=signal_body(risk_tier="medium"), headers=admin)
    relay()
    headers = bearer("user", "medium")
    signals, _ = all_pages(client, headers)
    taken = client.post(f"/api/user/signals/{signals[0]['id']}/taken", headers=headers)
    assert taken.status_code == 200
    stats = client.get("/api/user/stats", headers=headers).json
    assert stats["received"] == len(signals)
    assert stats["taken"] == 1 and stats["open"] + stats["wins"] + stats["losses"] <= 1
    assert len(stats["taken_by_day"]) == 14 and stats["taken_by_day"][-1]["taken"] == 1
