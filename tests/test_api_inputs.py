"""Hostile and odd inputs that once ended in 500 (or worse): each answers a documented 4xx, writes nothing."""

import json
import uuid

import pytest

from journal.devstack import signal_body
from tests.conftest import count

TABLES = ("signals", "outbox", "audit_log", "user_signals", "users")
NUL, LONE_SURROGATE = "\u0000", "\ud800"


@pytest.fixture
def admin(bearer):
    return bearer("admin", "high")


@pytest.fixture
def counts(owner):
    """The row counts of every table a request could write, as a dict."""
    return lambda: {table: count(owner, table) for table in TABLES}


def raw_post(client, url: str, text: str, headers: dict):
    """POST a JSON text as is (the test client's json= would refuse NaN or lone surrogates), from an
    address of its own: log-in limits count per address, and other tests log in from 127.0.0.1."""
    return client.post(
        url,
        data=text.encode("utf-8", "surrogatepass"),
        headers=headers,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"},
    )


def assert_error(resp, status: int, field: str | None = None) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert set(resp.json) == {"error", "fields"}
    if field:
        assert field in resp.json["fields"], resp.json


@pytest.fixture
def taken_signal(client, admin, bearer, relay):
    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    relay()
    user = bearer("user", "low")
    assert client.post(f"/api/user/signals/{signal['id']}/taken", headers=user).status_code == 200
    return signal, user


def test_fractional_payload_number_round_trips_as_the_same_number(client, admin, bearer, relay):
    resp = client.post(
        "/api/admin/signals", json=signal_body(payload={"rsi": 28.5, "n": [0.1, -3]}), headers=admin
    )
    assert resp.status_code == 201, resp.json
    assert json.loads(resp.get_data())["payload"] == {"rsi": 28.5, "n": [0.1, -3]}
    relay()
    again = client.get(f"/api/user/signals/{resp.json['id']}", headers=bearer("user", "low"))
    assert json.loads(again.get_data())["signal"]["payload"] == {"rsi": 28.5, "n": [0.1, -3]}


def test_reading_a_signal_the_caller_took_answers_its_state(client, taken_signal):
    signal, user = taken_signal
    resp = client.get(f"/api/user/signals/{signal['id']}", headers=user)
    assert resp.status_code == 200, resp.json
    assert resp.json["mine"]["taken_at"] and resp.json["signal"]["id"] == signal["id"]


def mine(client, signal: dict, user: dict) -> dict:
    """The caller's own state on the signal, as GET /api/user/signals/<id> answers it."""
    resp = client.get(f"/api/user/signals/{signal['id']}", headers=user)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.json["signal"]["id"] == signal["id"]
    return resp.json["mine"]


def test_reading_a_signal_the_caller_noted_answers_its_notes(client, admin, bearer, relay):
    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    relay()
    user = bearer("user", "low")
    noted = client.post(f"/api/user/signals/{signal['id']}/journal", json={"notes": "retest"}, headers=user)
    assert noted.status_code == 200, noted.json
    state = mine(client, signal, user)
    assert state["notes"] == "retest" and state["journaled_at"] and state["taken_at"] is None


def test_reading_a_signal_delivered_to_the_caller_answers_its_delivery(
    client, admin, make_user, login, relay, app, worker_app
):
    from journal.stream import receipts

    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    relay()
    user = make_user("user", "low")
    headers = {"Authorization": f"Bearer {login(user)['access_token']}"}
    with app.app_context():  # the socket's ack, as the web process queues it
        assert receipts.record(user["id"], [signal["id"]]) == 1
    with worker_app.app_context():  # the flush task, as the worker runs it
        assert receipts.flush() >= 1
    state = mine(client, signal, headers)
    assert state["delivered_at"] and state["taken_at"] is None and state["notes"] is None


def assert_refused_constant(resp, field: str) -> None:
    """NaN, Infinity or 1e400 where a value is expected: 400 (not JSON) or 422 naming the field."""
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    assert set(resp.json) == {"error", "fields"}
    assert resp.status_code == 400 or field in resp.json["fields"], resp.json


# the last two: exponents past what Decimal holds (InvalidOperation, which is no ValueError)
CONSTANTS = ["NaN", "Infinity", "-Infinity", "1e400", "1e1000000000000000000", "-1.5e-9999999999999999999"]


@pytest.mark.parametrize("constant", CONSTANTS)
def test_nan_and_infinity_in_notes_are_refused(client, taken_signal, counts, constant):
    signal, user = taken_signal
    before = counts()
    resp = raw_post(client, f"/api/user/signals/{signal['id']}/journal", f'{{"notes": {constant}}}', user)
    assert_refused_constant(resp, "notes")
    assert counts() == before
    state = mine(client, signal, user)
    assert state["notes"] is None and state["journaled_at"] is None  # the taken row was not updated


@pytest.mark.parametrize("constant", CONSTANTS)
def test_nan_and_infinity_as_the_login_email_are_refused(client, make_user, counts, constant):
    user = make_user()
    before = counts()
    body = f'{{"email": {constant}, "password": {json.dumps(user["password"])}}}'
    assert_refused_constant(raw_post(client, "/api/auth/login", body, {}), "email")
    assert counts() == before


@pytest.mark.parametrize("constant", CONSTANTS)
def test_nan_and_infinity_in_query_filters_are_refused_where_a_number_or_choice_is_expected(
    client, admin, bearer, constant
):
    user = bearer("user", "low")
    for url, headers, field in (
        (f"/api/user/signals?limit={constant}", user, "limit"),
        (f"/api/user/journal?cursor={constant}", user, "cursor"),
        (f"/api/hub/signals?cursor={constant}", user, "cursor"),
        (f"/api/admin/signals?limit={constant}", admin, "limit"),
        (f"/api/admin/signals?side={constant}", admin, "side"),
        (f"/api/admin/users?cursor={constant}", admin, "cursor"),
        (f"/api/admin/users?disabled={constant}", admin, "disabled"),
    ):
        assert_error(client.get(url, headers=headers), 422, field)
    if len(constant) > 20:  # longer than any symbol
        assert_error(client.get(f"/api/hub/signals?symbol={constant}", headers=user), 422, "symbol")
    for url, headers in (  # free-text filters: the words as text, matching nothing
        (f"/api/hub/signals?strategy={constant}", user),
        (f"/api/hub/signals?symbol={constant[:20]}", user),
        (f"/api/admin/signals?source={constant}", admin),
    ):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200 and resp.json["signals"] == [], url


@pytest.mark.parametrize("spelling", ["%ED%A0%80", "\xed\xa0\x80"], ids=["percent-encoded", "raw-bytes"])
def test_a_lone_surrogate_in_a_query_filter_is_refused(client, admin, bearer, counts, spelling):
    """U+D800 in the bytes UTF-8 would give it (which are not UTF-8): percent-encoded, or raw in the
    query string as a WSGI server passes it on (latin-1), where werkzeug's request.args raised."""
    user = bearer("user", "low")
    before = counts()
    for path, headers, name in (
        ("/api/hub/signals", user, "strategy"),
        ("/api/hub/signals", user, "symbol"),
        ("/api/admin/signals", admin, "source"),
        ("/api/admin/users", admin, "email"),
        ("/api/user/journal", user, "cursor"),
    ):
        resp = client.get(path, headers=headers, environ_overrides={"QUERY_STRING": f"{name}=x{spelling}"})
        assert_error(resp, 422, name)
    resp = client.get("/api/hub/signals", headers=user, environ_overrides={"QUERY_STRING": f"x{spelling}=1"})
    assert_error(resp, 422)
    assert counts() == before


@pytest.mark.parametrize("constant", CONSTANTS)
def test_a_number_beyond_decimal_in_a_batch_item_is_refused(client, admin, counts, constant):
    before = counts()
    body = '{"signals": [{"symbol": "BTCUSDT", "entry_price": %s}]}' % constant  # noqa: UP031
    resp = raw_post(client, "/api/admin/signals/batch", body, admin)
    if resp.status_code == 200:  # JSON, parsed: the item is refused on its own
        (result,) = resp.json["results"]
        assert result["status"] == "invalid" and "entry_price" in result["fields"], result
    else:  # not JSON (NaN, Infinity) or a number past Decimal's range: the whole body
        assert_error(resp, 400)
    assert counts() == before


@pytest.mark.parametrize("constant", CONSTANTS)
def test_nan_and_infinity_in_payload_are_refused(client, admin, counts, constant):
    before = counts()
    body = json.dumps(signal_body()).replace('"breakout above range"', constant)
    resp = raw_post(client, "/api/admin/signals", body, admin)
    assert resp.status_code in (400, 422) and set(resp.json) == {"error", "fields"}
    assert counts() == before


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_nul_and_lone_surrogate_in_payload_are_refused(client, admin, counts, bad):
    before = counts()
    for payload in ({"note": f"a{bad}b"}, {f"k{bad}": 1}, {"deep": [{"x": bad}]}):
        body = json.dumps(signal_body(payload=payload), ensure_ascii=True)
        assert_error(raw_post(client, "/api/admin/signals", body, admin), 422, "payload")
    assert counts() == before


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_nul_and_lone_surrogate_in_notes_are_refused(client, taken_signal, counts, bad):
    signal, user = taken_signal
    before = counts()
    body = json.dumps({"notes": f"entered{bad}"}, ensure_ascii=True)
    assert_error(raw_post(client, f"/api/user/signals/{signal['id']}/journal", body, user), 422, "notes")
    assert counts() == before


def test_nul_in_filters_is_refused(client, admin, bearer):
    user = bearer("user", "low")
    for url, headers in (
        ("/api/admin/signals?symbol=BTC%00USDT", admin),
        ("/api/admin/signals?source=x%00", admin),
        ("/api/hub/signals?strategy=trend%00", user),
        ("/api/hub/signals?symbol=%00", user),
    ):
        assert_error(client.get(url, headers=headers), 422)


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_nul_and_lone_surrogate_in_login_email_are_refused(client, make_user, counts, bad):
    user = make_user()
    before = counts()
    body = json.dumps({"email": user["email"] + bad, "password": user["password"]}, ensure_ascii=True)
    assert_error(raw_post(client, "/api/auth/login", body, {}), 422, "email")
    assert counts() == before


def test_password_with_trailing_nul_does_not_log_in(client, make_user):
    user = make_user()
    resp = client.post("/api/auth/login", json={"email": user["email"], "password": user["password"] + NUL})
    assert_error(resp, 422, "password")
    body = json.dumps({"email": user["email"], "password": user["password"] + LONE_SURROGATE})
    assert_error(raw_post(client, "/api/auth/login", body, {}), 422, "password")


def test_tens_of_thousands_of_brackets_are_refused_before_parsing(client, admin, counts):
    before = counts()
    for body in ("[" * 60000, '{"payload": ' + "[" * 30000 + "]" * 30000 + "}"):
        assert_error(raw_post(client, "/api/admin/signals", body, admin), 400)
    assert_error(raw_post(client, "/api/auth/login", "[" * 60000, {}), 400)
    assert counts() == before


def test_payload_nested_900_lists_deep_is_refused(client, admin, counts):
    before = counts()
    nested: object = "x"
    for _ in range(900):
        nested = [nested]
    resp = raw_post(client, "/api/admin/signals", json.dumps(signal_body(payload={"n": nested})), admin)
    assert_error(resp, 400)
    assert counts() == before


def test_expires_at_at_the_end_of_year_9999_is_refused(client, admin, counts):
    before = counts()
    for stamp in ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.999999+00:00"):
        assert_error(
            client.post("/api/admin/signals", json=signal_body(expires_at=stamp), headers=admin),
            422,
            "expires_at",
        )
    assert counts() == before


def test_journal_cursor_beyond_bigint_is_refused(client, admin, bearer):
    user = bearer("user", "low")
    big = 2**63
    for url, headers in (
        (f"/api/user/journal?cursor={big}", user),
        (f"/api/user/signals?cursor={big}", user),
        (f"/api/admin/signals?cursor={big}", admin),
        (f"/api/hub/signals?cursor={big}", user),
    ):
        assert_error(client.get(url, headers=headers), 422, "cursor")
    assert client.get(f"/api/user/journal?cursor={big - 1}", headers=user).status_code == 200


@pytest.mark.parametrize(
    "spelling",
    [
        lambda u: f"urn:uuid:{u}",
        lambda u: "{" + u + "}",
        lambda u: u.replace("-", ""),
        lambda u: u[:8] + u[9:13] + "-" + u[13:],
    ],
    ids=["urn", "braces", "no-hyphens", "moved-hyphen"],
)
def test_uuid_spellings_other_than_canonical_are_404(client, admin, taken_signal, counts, spelling):
    signal, user = taken_signal
    before = counts()
    other = spelling(signal["id"])
    for method, url, headers in (
        ("get", f"/api/admin/signals/{other}", admin),
        ("post", f"/api/admin/signals/{other}/archive", admin),
        ("get", f"/api/user/signals/{other}", user),
        ("post", f"/api/user/signals/{other}/taken", user),
        ("patch", f"/api/hub/signals/{other}/outcome", admin),
    ):
        resp = getattr(client, method)(
            url, headers=headers, json={"outcome": "WIN"} if method == "patch" else None
        )
        assert_error(resp, 404)
    resp = client.post(f"/api/user/signals/{other}/journal", headers=user, json={"notes": "n"})
    assert_error(resp, 404)
    assert counts() == before
    assert client.get(f"/api/admin/signals/{signal['id'].upper()}", headers=admin).status_code == 200


def nested_payload(levels: int) -> dict:
    """A payload object nesting `levels` deep (the object itself is the first level)."""
    inner: object = {"rsi": 28.5, "note": "é😀"}
    for level in range(levels - 2):
        inner = [inner] if level % 2 else {"k": inner}
    return {"deep": inner}


def test_a_payload_at_the_limits_reaches_every_reader(client, admin, bearer, relay, app):
    import pickle

    from journal.schemas import MAX_PAYLOAD_DEPTH
    from journal.stream import catchup

    too_deep = client.post(
        "/api/admin/signals", json=signal_body(payload=nested_payload(MAX_PAYLOAD_DEPTH + 1)), headers=admin
    )
    assert_error(too_deep, 422, "payload")
    payload = nested_payload(MAX_PAYLOAD_DEPTH) | {"pad": "x" * (16 * 1024 - 600)}
    posted = client.post(
        "/api/admin/signals", json=signal_body(risk_tier="low", payload=payload), headers=admin
    )
    assert posted.status_code == 201, posted.json
    assert relay() >= 1  # the relay encodes and emits it (Socket.IO through Redis)
    user = bearer("user", "low")
    feed = json.loads(client.get("/api/user/signals?limit=200", headers=user).get_data())
    assert payload in [s["payload"] for s in feed["signals"]]
    history = json.loads(client.get("/api/hub/signals?limit=200", headers=user).get_data())
    assert payload in [s["payload"] for s in history["signals"]]
    with app.app_context():  # what a socket's catch-up and snapshot send, encoded as the emitter does
        replayed = catchup.after("low", 0, 10_000)
        snapshot, _ = catchup.page("low", 0, None, 50)
    for event in (replayed, snapshot):
        assert payload in [s["payload"] for s in json.loads(json.dumps(event))]
        pickle.dumps(event)


def test_a_payload_number_without_a_double_value_is_refused(client, admin, counts):
    before = counts()
    body = json.dumps(signal_body()).replace('"breakout above range"', "1e-400")
    assert_error(raw_post(client, "/api/admin/signals", body, admin), 422, "payload")
    assert counts() == before
