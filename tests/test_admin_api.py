"""POST/GET /api/admin/signals and archive: validation, idempotency, immutability over HTTP."""

import uuid

import pytest

from journal.devstack import signal_body
from journal.schemas import SignalCreate
from tests.conftest import count

BAD_INPUTS = [
    ("buy with stop above entry", {"stop_loss": "66000"}, "stop_loss"),
    ("buy with target below entry", {"take_profit": "64500"}, "stop_loss"),
    ("sell with buy-ordered prices", {"side": "sell"}, "stop_loss"),
    ("zero price", {"entry_price": 0}, "entry_price"),
    ("negative price", {"stop_loss": -5}, "stop_loss"),
    ("NaN price", {"take_profit": "NaN"}, "take_profit"),
    ("infinite price", {"take_profit": "Infinity"}, "take_profit"),
    ("huge price", {"take_profit": "1e15"}, "take_profit"),
    ("too many decimals", {"entry_price": "65000.00000000001"}, "entry_price"),
    ("price as boolean", {"entry_price": True}, "entry_price"),
    ("price as list", {"entry_price": [1]}, "entry_price"),
    ("unknown tier", {"risk_tier": "extreme"}, "risk_tier"),
    ("unknown side", {"side": "hold"}, "side"),
    ("unknown symbol", {"symbol": "NOPE"}, "symbol"),
    ("unknown field", {"leverage": 100}, "leverage"),
    ("confidence out of range", {"confidence": 101}, "confidence"),
    ("confidence as string", {"confidence": "90"}, "confidence"),
    ("timeframe unknown", {"timeframe": "7m"}, "timeframe"),
    ("payload not an object", {"payload": "text"}, "payload"),
    ("oversize payload", {"payload": {"notes": "x" * 20000}}, "payload"),
    ("expiry in the past", {"expires_at": "2001-01-01T00:00:00+00:00"}, "expires_at"),
    ("expiry without zone", {"expires_at": "2099-01-01T00:00:00"}, "expires_at"),
    ("symbol wrong type", {"symbol": 5}, "symbol"),
]


@pytest.fixture
def admin(bearer):
    return bearer("admin", "high")


def test_admin_posts_a_signal(client, admin, owner):
    before = count(owner, "signals"), count(owner, "outbox"), count(owner, "audit_log")
    resp = client.post("/api/admin/signals", json=signal_body(), headers=admin)
    assert resp.status_code == 201
    body = resp.json
    assert body["symbol"] == "BTCUSDT" and body["entry_price"] == "65000.5"
    assert body["grade"] == "B" and body["status"] == "active" and body["source"] == "admin"
    after = count(owner, "signals"), count(owner, "outbox"), count(owner, "audit_log")
    assert after == tuple(n + 1 for n in before)


@pytest.mark.parametrize(("case", "change", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_field_and_writes_nothing(client, admin, owner, case, change, field):
    before = count(owner, "signals")
    resp = client.post("/api/admin/signals", json=signal_body(**change), headers=admin)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["fields"]
    assert count(owner, "signals") == before


@pytest.mark.parametrize(
    "missing", ["symbol", "side", "entry_price", "stop_loss", "take_profit", "risk_tier"]
)
def test_missing_field(client, admin, owner, missing):
    body = signal_body()
    del body[missing]
    before = count(owner, "signals")
    resp = client.post("/api/admin/signals", json=body, headers=admin)
    assert resp.status_code == 422 and missing in resp.json["fields"]
    assert count(owner, "signals") == before


def test_sell_needs_reverse_order(client, admin):
    body = signal_body(side="sell", entry_price="100", stop_loss="110", take_profit="90")
    assert client.post("/api/admin/signals", json=body, headers=admin).status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("symbol=BTCUSDT", "application/x-www-form-urlencoded", 400),
        ("{" + '"a": "' + "x" * 70000 + '"}', "application/json", 413),
    ],
)
def test_malformed_bodies(client, admin, owner, data, content_type, status):
    before = count(owner, "signals")
    resp = client.post("/api/admin/signals", data=data, content_type=content_type, headers=admin)
    assert resp.status_code == status
    assert "error" in resp.json
    assert count(owner, "signals") == before


def test_idempotency_key_returns_the_first_signal(client, admin, owner):
    headers = {**admin, "Idempotency-Key": "order-7f3a"}
    before = count(owner, "signals")
    first = client.post("/api/admin/signals", json=signal_body(), headers=headers)
    second = client.post("/api/admin/signals", json=signal_body(), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["id"] == second.json["id"]
    assert count(owner, "signals") == before + 1
    other = client.post("/api/admin/signals", json=signal_body(entry_price="65001"), headers=headers)
    assert other.status_code == 409 and "Idempotency-Key" in other.json["fields"]
    assert count(owner, "signals") == before + 1


def test_dedup_key_in_body(client, admin, owner):
    body = signal_body(dedup_key="strategy-x:BTCUSDT:2026-11-23T01:00")
    ids = {client.post("/api/admin/signals", json=body, headers=admin).json["id"] for _ in range(3)}
    assert len(ids) == 1
    again = client.post("/api/admin/signals/batch", json={"signals": [body]}, headers=admin).json
    assert again["results"][0]["status"] == "duplicate" and again["results"][0]["signal"]["id"] in ids


def test_a_posted_dedup_key_cannot_take_the_key_of_a_signal_the_engine_generates(client, admin, worker_app):
    from journal.stream.record import record_signals

    engine_key = f"trend:BTCUSDT:1h:{uuid.uuid4().int % 10**9}"  # the engine's key of a coming candle
    body = signal_body(dedup_key=engine_key)
    assert client.post("/api/admin/signals", json=body, headers=admin).status_code == 201
    generated = signal_body(dedup_key=engine_key, strategy="trend", entry_price="65001")
    with worker_app.app_context():
        (recorded,) = record_signals([SignalCreate().load(generated)], source="engine")
    assert recorded.created  # the engine's signal is stored, not refused as the client's duplicate


def test_list_filters_and_keyset_pages(client, admin):
    for tier in ("low", "medium", "high"):
        client.post(
            "/api/admin/signals",
            json=signal_body(
                symbol="ETHUSDT", risk_tier=tier, entry_price="3000", stop_loss="2900", take_profit="3300"
            ),
            headers=admin,
        )
    resp = client.get("/api/admin/signals?symbol=ETHUSDT&risk_tier=medium&limit=200", headers=admin)
    assert resp.status_code == 200
    assert resp.json["signals"] and all(
        s["risk_tier"] == "medium" and s["symbol"] == "ETHUSDT" for s in resp.json["signals"]
    )
    first = client.get("/api/admin/signals?limit=2", headers=admin).json
    second = client.get(f"/api/admin/signals?limit=2&cursor={first['next_cursor']}", headers=admin).json
    ids = [s["id"] for s in first["signals"] + second["signals"]]
    assert len(set(ids)) == 4
    assert client.get("/api/admin/signals?limit=201", headers=admin).status_code == 422
    assert "limit" in client.get("/api/admin/signals?limit=x", headers=admin).json["fields"]
    assert "bogus" in client.get("/api/admin/signals?bogus=1", headers=admin).json["fields"]


def test_archive_is_a_status_change(client, admin, owner):
    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    before = count(owner, "signals")
    resp = client.post(f"/api/admin/signals/{signal['id']}/archive", headers=admin)
    assert resp.status_code == 200 and resp.json["status"] == "archived"
    assert resp.json["entry_price"] == signal["entry_price"]
    assert count(owner, "signals") == before
    assert client.post("/api/admin/signals/not-a-uuid/archive", headers=admin).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/api/admin/signals/{missing}/archive", headers=admin).status_code == 404


def test_delete_is_not_allowed(client, admin):
    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    assert client.delete("/api/admin/signals", headers=admin).status_code == 405
    assert client.delete(f"/api/admin/signals/{signal['id']}", headers=admin).status_code == 405
    assert client.delete(f"/api/user/signals/{signal['id']}", headers=admin).status_code == 405
    assert client.get(f"/api/admin/signals/{signal['id']}", headers=admin).json["id"] == signal["id"]
