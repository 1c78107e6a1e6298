"""History at scale: batches, content-hash dedup, exports, keyset pages, and the partition migration.

Each test is named after what it stops: a batch that stores part of an item or reorders results,
a signal stored twice because nobody sent a key, an export that leaves out or adds rows, a page
that repeats or skips a row while new ones arrive, a migration that loses a row or a grant.
"""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from journal.config import role_url
from journal.devstack import signal_body
from journal.migrate import MIGRATIONS, migrate
from journal.schemas import MAX_BATCH_SIGNALS
from journal.stream.keys import content_identity
from tests.conftest import count, create_database, drop_database

BATCH = "/api/admin/signals/batch"


@pytest.fixture
def admin(bearer):
    return bearer("admin", "high")


def test_a_batch_stores_each_valid_item_once_and_reports_every_item_in_order(client, admin, owner):
    twin = signal_body()
    keyed = signal_body(dedup_key=f"desk-{uuid.uuid4()}")
    items = [
        signal_body(),
        {"symbol": "NOPE", "side": "buy"},  # invalid: stores nothing of it
        twin,
        dict(twin),  # the same content in the same candle: the item before it
        keyed,
        signal_body(dedup_key=keyed["dedup_key"], entry_price="65001"),  # its key, other values
        signal_body(side="sell"),  # a buy's prices on a sell
    ]
    before = count(owner, "signals"), count(owner, "outbox")
    resp = client.post(BATCH, json={"signals": items}, headers=admin)
    assert resp.status_code == 200, resp.json
    results = resp.json["results"]
    assert [r["status"] for r in results] == [
        "created", "invalid", "created", "duplicate", "created", "invalid", "invalid",
    ]  # fmt: skip
    assert "symbol" in results[1]["fields"] and "entry_price" in results[1]["fields"]
    assert results[3]["signal"]["id"] == results[2]["signal"]["id"]
    assert results[5]["fields"] == {"dedup_key": ["already used with other values"]}
    assert "stop_loss" in results[6]["fields"]
    assert (count(owner, "signals"), count(owner, "outbox")) == (before[0] + 3, before[1] + 3)
    again = client.post(BATCH, json={"signals": items}, headers=admin).json["results"]
    assert [r["status"] for r in again] == [
        "duplicate", "invalid", "duplicate", "duplicate", "duplicate", "invalid", "invalid",
    ]  # fmt: skip
    assert [r["signal"]["id"] for r in again if "signal" in r] == [
        r["signal"]["id"] for r in results if "signal" in r
    ]
    assert count(owner, "signals") == before[0] + 3


def test_a_batch_over_its_limits_is_refused_whole(client, admin, owner, app):
    before = count(owner, "signals")
    too_many = client.post(BATCH, json={"signals": [signal_body()] * (MAX_BATCH_SIGNALS + 1)}, headers=admin)
    assert too_many.status_code == 422 and "signals" in too_many.json["fields"]
    filler = "x" * 15000
    heavy = [
        signal_body(payload={"pad": filler, "n": n})
        for n in range(app.config["MAX_BATCH_BODY_BYTES"] // 15000 + 1)
    ]
    too_big = client.post(BATCH, json={"signals": heavy}, headers=admin)
    assert too_big.status_code == 413
    assert client.post(BATCH, json={"signals": []}, headers=admin).status_code == 422
    assert client.post(BATCH, json={"signals": [1, "x"]}, headers=admin).status_code == 422
    assert count(owner, "signals") == before


def test_the_same_signal_posted_twice_without_a_key_is_one_row_and_the_answer_says_so(client, admin, owner):
    body = signal_body()
    first = client.post("/api/admin/signals", json=body, headers=admin)
    second = client.post("/api/admin/signals", json=body, headers=admin)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json["id"] == first.json["id"]
    with owner.cursor() as cur:
        cur.execute("SELECT count(*) FROM signals WHERE payload->>'ref' = %s", (body["payload"]["ref"],))
        assert cur.fetchone()[0] == 1
    other = client.post("/api/admin/signals", json={**body, "confidence": 73}, headers=admin)
    assert other.status_code == 201  # other content is another signal


def test_equal_content_in_another_candle_is_another_signal():
    values = {
        "source": "admin", "strategy": None, "symbol": "BTCUSDT", "side": "buy", "risk_tier": "low",
        "confidence": 72, "grade": "B", "timeframe": "1h", "entry_price": 1, "stop_loss": 0.5,
        "take_profit": 2, "given_expiry": None, "payload": {"a": 1},
    }  # fmt: skip
    hour = 3600 * 490_000
    assert content_identity(values, hour + 1) == content_identity(values, hour + 3599)
    assert content_identity(values, hour + 1) != content_identity(values, hour + 3601)
    assert content_identity(values, hour) != content_identity({**values, "payload": {"a": 2}}, hour)


def test_an_export_holds_exactly_the_rows_of_its_range_and_filters(client, admin, owner):
    strategy = f"export-{uuid.uuid4().hex[:8]}"
    created = client.post(
        BATCH,
        json={"signals": [signal_body(strategy=strategy, risk_tier=t) for t in ("low", "high") * 20]},
        headers=admin,
    ).json["results"]
    since = datetime.now(UTC) - timedelta(minutes=5)
    until = datetime.now(UTC) + timedelta(minutes=5)
    query = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "strategy": strategy,
        "risk_tier": "high",
    }
    resp = client.get("/api/admin/signals/export.csv", query_string=query, headers=admin)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    with owner.cursor() as cur:
        cur.execute(
            "SELECT signal_id::text FROM signals WHERE strategy = %s AND risk_tier = 'high' "
            "AND created_at >= %s AND created_at < %s",
            (strategy, since, until),
        )
        stored = {row[0] for row in cur.fetchall()}
    assert len(rows) == len(stored) == 20
    assert {row["id"] for row in rows} == stored
    assert {r["signal"]["id"] for r in created if r["signal"]["risk_tier"] == "high"} == stored
    assert rows[0]["entry_price"] == "65000.5"  # as the API writes prices


def test_an_exported_strategy_or_note_cannot_run_as_a_spreadsheet_formula(
    client, admin, bearer, login, make_user
):
    signal = client.post(
        "/api/admin/signals", json=signal_body(strategy="=HYPERLINK(1)", risk_tier="low"), headers=admin
    ).json
    now = datetime.now(UTC)
    window = {
        "since": (now - timedelta(minutes=5)).isoformat(),
        "until": (now + timedelta(minutes=5)).isoformat(),
    }
    exported = client.get("/api/admin/signals/export.csv", query_string=window, headers=admin)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(exported.get_data(as_text=True)))}
    assert rows[signal["id"]]["strategy"] == "'=HYPERLINK(1)"
    user = {"Authorization": f"Bearer {login(make_user('user', 'low'))['access_token']}"}
    noted = client.post(f"/api/user/signals/{signal['id']}/journal", json={"notes": "+1 cmd"}, headers=user)
    assert noted.status_code == 200
    journal = list(
        csv.DictReader(
            io.StringIO(client.get("/api/user/journal/export.csv", headers=user).get_data(as_text=True))
        )
    )
    assert [(row["id"], row["notes"]) for row in journal] == [(signal["id"], "'+1 cmd")]
    other = {"Authorization": f"Bearer {login(make_user('user', 'low'))['access_token']}"}
    assert client.get("/api/user/journal/export.csv", headers=other).get_data(as_text=True).count("\n") == 1


def test_slow_export_readers_cannot_take_the_connections_every_other_request_needs(
    client, bearer, login, make_user
):
    from journal.exports import EXPORTS_AT_ONCE

    user = {"Authorization": f"Bearer {login(make_user('user', 'low'))['access_token']}"}
    # clients that start an export and then read nothing (each holds a slot and a connection)
    held = [
        client.get("/api/user/journal/export.csv", headers=user, buffered=False)
        for _ in range(EXPORTS_AT_ONCE)
    ]
    try:
        assert all(resp.status_code == 200 for resp in held)
        for resp in held:
            next(resp.response)  # the header line: each holds its server-side cursor now
        refused = client.get("/api/user/journal/export.csv", headers=user)
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert set(refused.json) == {"error", "fields"}
        assert client.get("/api/user/signals", headers=user).status_code == 200  # the rest is served
    finally:
        held.pop().close()  # one client goes away, its slot is free again
    again = client.get("/api/user/journal/export.csv", headers=user)
    assert again.status_code == 200 and again.get_data(as_text=True).startswith("id,")
    for resp in held:
        resp.close()
    unread = client.get("/api/user/journal/export.csv", headers=user, buffered=False)
    unread.close()  # never read at all: its slot comes back too
    for _ in range(EXPORTS_AT_ONCE + 1):  # read to the end, one after another: none is refused
        done = client.get("/api/user/journal/export.csv", headers=user)
        assert done.status_code == 200 and done.get_data(as_text=True).startswith("id,")


@pytest.mark.parametrize("sort", ("newest", "oldest"))
def test_keyset_pages_never_repeat_or_skip_a_row_while_new_rows_arrive(client, admin, sort):
    strategy = f"pages-{uuid.uuid4().hex[:8]}"
    post = lambda n: client.post(  # noqa: E731
        BATCH, json={"signals": [signal_body(strategy=strategy) for _ in range(n)]}, headers=admin
    ).json["results"]
    existing = {r["signal"]["id"] for r in post(45)}
    seen, cursor = [], None
    while True:
        query = {"strategy": strategy, "limit": 10, "sort": sort} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/admin/signals", query_string=query, headers=admin).json
        seen += [s["id"] for s in page["signals"]]
        post(3)  # rows arriving between pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))  # nothing twice
    assert existing <= set(seen)  # nothing that existed was skipped
    if sort == "newest":
        assert set(seen) == existing  # and what arrived later is before the first page


def test_the_migration_to_partitions_keeps_every_row_the_audit_chain_and_the_roles_limits(services):
    server = make_url(services["DATABASE_URL"])
    name = f"journal_premigration_{uuid.uuid4().hex[:8]}"
    create_database(server.set(database="postgres").render_as_string(hide_password=False), name)
    url = server.set(database=name).render_as_string(hide_password=False)
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:  # the schema as it was before partitions (up to 010)
            cur.execute(
                "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz DEFAULT now())"
            )
            for path in sorted(MIGRATIONS.glob("*.sql")):
                if path.name < "011":
                    cur.execute(path.read_text())
                    cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
        with conn, conn.cursor() as cur:  # signals over three months, half sequenced, some state
            cur.execute(
                "INSERT INTO users (email, password_hash) VALUES ('old@example.com', 'x') RETURNING id"
            )
            user = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
                "dedup_key, created_at) SELECT 'BTCUSDT', 'buy', 100, 90, 120, "
                "(ARRAY['low','medium','high'])[1 + i % 3], 'uuid:' || i, now() - (i || ' days')::interval "
                "FROM generate_series(1, 90) i"
            )
            cur.execute(
                "INSERT INTO outbox (signal_pk, kind, signal_tier) "
                "SELECT id, 'signal', risk_tier FROM signals"
            )
            cur.execute("UPDATE outbox SET seq = id, sequenced_at = now(), emitted_at = now() WHERE id <= 45")
            cur.execute(
                "INSERT INTO user_signals (user_id, signal_pk, taken_at, notes) "
                "SELECT %s, id, now(), 'kept' FROM signals WHERE id %% 9 = 0",
                (user,),
            )
            cur.execute(
                "INSERT INTO audit_log (actor_id, action, entity, entity_id) "
                "SELECT %s, 'signal.create', 'signal', id::text FROM signals",
                (user,),
            )
            cur.execute("SELECT chain_audit_log(1000)")
            cur.execute("SELECT array_agg(signal_id::text ORDER BY id) FROM signals")
            signal_ids = cur.fetchone()[0]
            cur.execute("SELECT array_agg(hash ORDER BY chain_pos) FROM audit_log")
            chain = cur.fetchone()[0]
        assert "012_partitions_and_keys.sql" in migrate(url)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT array_agg(signal_id::text ORDER BY id) FROM signals")
            assert cur.fetchone()[0] == signal_ids
            cur.execute("SELECT count(*) FROM user_signals WHERE notes = 'kept'")
            assert cur.fetchone()[0] == 10
            cur.execute("SELECT array_agg(hash ORDER BY chain_pos) FROM audit_log")
            assert cur.fetchone()[0] == chain
            cur.execute("SELECT count(DISTINCT tableoid) FROM signals")
            assert cur.fetchone()[0] >= 3  # the rows live in their months' partitions
            cur.execute("SELECT emitted_upto, (SELECT count(*) FROM signal_keys) FROM relay_state")
            assert cur.fetchone() == (45, 90)
        app_conn = psycopg2.connect(role_url(url, "app").replace("+psycopg2", ""))
        try:
            for statement in (
                "DELETE FROM signals",
                "TRUNCATE signals",
                "UPDATE signals SET entry_price = 1",
            ):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege), app_conn.cursor() as cur:
                    cur.execute(statement)
                app_conn.rollback()
        finally:
            app_conn.close()
    finally:
        conn.close()
        drop_database(url)


def test_a_time_filter_with_an_offset_postgresql_refuses_is_read_as_utc(client, admin):
    # Python accepts offsets up to ±23:59, PostgreSQL only to ±15:59 (found by the API fuzz: a 500)
    odd = {"until": "2961-10-18T22:47:44-23:33", "since": "0106-12-30T20:01:24Z"}
    assert client.get("/api/admin/signals", query_string=odd, headers=admin).status_code == 200
    edge = {"since": "0001-01-01T00:30:00+01:00"}  # before year 1 once in UTC
    resp = client.get("/api/admin/signals", query_string=edge, headers=admin)
    assert resp.status_code == 422 and "since" in resp.json["fields"]


def test_an_export_streams_from_a_real_web_process(hub):
    # gunicorn's gevent worker runs psycopg2 with a wait callback, under which COPY is refused: the
    # in-process tests above would not see that (a 500 in the benchmark did)
    strategy = f"served-{uuid.uuid4().hex[:8]}"
    ids = {hub.post("high", strategy=strategy) for _ in range(5)}
    now = datetime.now(UTC)
    window = {
        "since": (now - timedelta(minutes=5)).isoformat(),
        "until": (now + timedelta(minutes=5)).isoformat(),
    }
    resp = hub.http.get(hub.url + "/api/admin/signals/export.csv", params={**window, "strategy": strategy})
    assert resp.status_code == 200, resp.text
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert {row["id"] for row in rows} == ids
    assert all(row["strategy"] == strategy and row["created_at"].endswith("Z") for row in rows)
