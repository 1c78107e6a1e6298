"""Attacks on the database roles: shadowing objects in pg_temp, creating objects, widening own rights."""

import os
import uuid

import psycopg2
import pytest
from click.testing import CliRunner

from journal.cli import main
from journal.devstack import signal_body
from tests.conftest import assert_refused, role_conn

ROLES = ("app", "worker", "admin")


@pytest.fixture
def attacker(services, owner):
    """A login role that, unlike the application roles, may create temporary objects: what an
    application role could do if TEMP were ever granted back. Yields a connection as it.

    A stand-in, because the application roles cannot create temporary objects at all (no TEMP on
    the database: test_application_role_cannot_create_objects), so as themselves they cannot even
    set up the shadowing; this role shows the definer functions would be safe even if they could."""
    name = f"attacker_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with owner.cursor() as cur:
        cur.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'attack-attack'")
        cur.execute("SELECT current_database()")
        database = cur.fetchone()[0]
        cur.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {name}')
        cur.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        cur.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name}")
        cur.execute(f"GRANT SELECT ON signal_stats TO {name}")
        cur.execute(f"GRANT SELECT, UPDATE (outcome, outcome_price, outcome_at) ON signals TO {name}")
    url = psycopg2.extensions.parse_dsn(services["DATABASE_URL"].replace("+psycopg2", ""))
    conn = psycopg2.connect(**{**url, "user": name, "password": "attack-attack"})
    yield conn
    conn.close()
    with owner.cursor() as cur:
        cur.execute(f"DROP OWNED BY {name}")
        cur.execute(f"DROP ROLE {name}")


def test_every_security_definer_function_searches_pg_temp_last(owner):
    """Any definer function, in any schema, that searched pg_temp before its tables would run a
    temporary object's code as its owner (the audit chain's trigger was one until 007 dropped it)."""
    with owner.cursor() as cur:
        cur.execute(
            "SELECT n.nspname || '.' || p.proname, p.proconfig FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        )
        definers = dict(cur.fetchall())
    assert "public.signal_stats_outcome" in definers
    for name, settings in definers.items():
        paths = [s.split("=", 1)[1] for s in settings or [] if s.startswith("search_path=")]
        assert paths and paths[0].replace(" ", "").split(",")[-1] == "pg_temp", (name, settings)


def test_temp_table_with_trigger_named_signal_stats_runs_nothing_as_the_owner(attacker, client, bearer):
    """The roll-up trigger (SECURITY DEFINER) writes public.signal_stats, never a shadowing pg_temp
    table whose trigger would run as the owner (the stand-in role: see `attacker`)."""
    signal = client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high")).json
    with attacker.cursor() as cur:
        cur.execute("CREATE TEMP TABLE spied (who text)")
        cur.execute("CREATE TEMP TABLE signal_stats (LIKE public.signal_stats INCLUDING ALL)")
        cur.execute(
            "CREATE FUNCTION pg_temp.spy() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN INSERT INTO pg_temp.spied VALUES (current_user); RETURN NEW; END $$"
        )
        cur.execute(
            "CREATE TRIGGER spy BEFORE INSERT ON pg_temp.signal_stats "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.spy()"
        )
        cur.execute(
            "UPDATE signals SET outcome = 'WIN', outcome_price = 67000, outcome_at = now() "
            "WHERE signal_id = %s",
            (signal["id"],),
        )
        cur.execute("SELECT who FROM pg_temp.spied")
        assert cur.fetchall() == []  # the roll-up trigger wrote public.signal_stats
        cur.execute("SELECT count(*) FROM pg_temp.signal_stats")
        assert cur.fetchone()[0] == 0
    attacker.rollback()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TEMP TABLE scratch (a int)",
        "CREATE TEMP VIEW audit_log AS SELECT * FROM public.audit_log",
        "CREATE TABLE public.scratch (a int)",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_application_role_cannot_create_objects(services, role, statement):
    assert_refused(services, role, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO users (email, password_hash, role) VALUES ('mallory@example.com', 'x', 'admin')",
        "INSERT INTO users (email, password_hash) VALUES ('mallory@example.com', 'x')",
        "UPDATE users SET risk_tier = 'high'",
        "UPDATE users SET plan = 'elite'",
        "UPDATE users SET role = 'admin'",
        "UPDATE users SET disabled = false",
        "UPDATE users SET password_hash = 'x'",
    ],
)
def test_web_role_cannot_create_users_or_raise_their_tier_plan_or_role(services, statement):
    assert_refused(services, "app", statement)


@pytest.mark.parametrize("role", ("app", "worker"))
@pytest.mark.parametrize(
    ("column", "value"),
    [("outcome", "'WIN'"), ("status", "'archived'"), ("created_at", "now() - interval '1 day'")],
)
def test_signal_insert_cannot_set_server_columns(services, role, column, value):
    assert_refused(
        services,
        role,
        "INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
        f"dedup_key, {column}) VALUES ('BTCUSDT', 'buy', 100, 90, 120, 'low', %s, {value})",
        (f"attack:{uuid.uuid4()}",),
    )


def app_role_inserts_a_signal(cur, tier: str) -> tuple[int, object]:
    cur.execute(
        "INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, dedup_key) "
        "VALUES ('BTCUSDT', 'buy', 100, 90, 120, %s, %s) RETURNING id, created_at",
        (tier, f"forge:{uuid.uuid4()}"),
    )
    return cur.fetchone()


@pytest.mark.parametrize("role", ["app", "worker", "admin"])
def test_an_application_role_cannot_make_partitions_for_past_months(services, role, owner):
    assert_refused(services, role, "SELECT create_month_partitions(0, '1990-01-01')")
    with owner.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_class WHERE relname = 'signals_1990_01'")
        assert cur.fetchone()[0] == 0


def test_web_role_cannot_forge_an_outbox_event_into_a_lower_tier(services):
    """A row marking a high signal 'low' would replay it to low-tier users (catch-up filters on the
    outbox's tier): the statement is refused."""
    conn = role_conn(services, "app")
    try:
        with conn.cursor() as cur:
            signal = app_role_inserts_a_signal(cur, "high")
            with pytest.raises(psycopg2.errors.CheckViolation, match="its signal's tier"):
                cur.execute(
                    "INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
                    "VALUES (%s, %s, 'signal', 'low')",
                    signal,
                )
    finally:
        conn.rollback()
        conn.close()


def test_web_role_cannot_forge_an_outcome_event_for_an_open_signal(services):
    conn = role_conn(services, "app")
    try:
        with conn.cursor() as cur:
            signal = app_role_inserts_a_signal(cur, "high")
            with pytest.raises(psycopg2.errors.CheckViolation, match="outcome event a stored outcome"):
                cur.execute(
                    "INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
                    "VALUES (%s, %s, 'outcome', 'high')",
                    signal,
                )
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("role", ("worker", "admin"))
def test_worker_and_admin_roles_cannot_read_password_hashes(services, role):
    assert_refused(services, role, "SELECT password_hash FROM users")
    assert_refused(services, role, "SELECT * FROM users")
    conn = role_conn(services, role)
    try:
        with conn.cursor() as cur:  # every other column stays readable
            cur.execute("SELECT id, email, role, risk_tier, plan, disabled, tokens_valid_after FROM users")
    finally:
        conn.close()


def test_verify_reports_a_definer_without_pg_temp_and_a_widened_grant(services, owner, relay):
    relay()
    assert CliRunner().invoke(main, ["verify"]).exit_code == 0
    # A role of its own to be a member of: role memberships are server-wide, and other test runs
    # may share this server, so the application roles gain no rights from it.
    probe = f"verify_probe_{os.getpid()}"
    with owner.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION public.careless() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "SET search_path = public AS 'SELECT 1'"
        )
        cur.execute("CREATE SCHEMA IF NOT EXISTS sneaky")
        cur.execute("CREATE FUNCTION sneaky.hidden() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
        cur.execute("GRANT DELETE ON user_signals TO trading_app_user")
        cur.execute("GRANT INSERT (role) ON users TO trading_app_user")  # column-level: still a grant
        cur.execute("GRANT SELECT (password_hash) ON users TO trading_worker_user")
        cur.execute(f"CREATE ROLE {probe} NOLOGIN")
        cur.execute(f"GRANT {probe} TO trading_admin_user")
        cur.execute("ALTER TABLE outbox DISABLE TRIGGER outbox_events_of_signals")
    try:
        result = CliRunner().invoke(main, ["verify"])
        assert result.exit_code == 1
        assert "careless() is SECURITY DEFINER without pg_temp last" in result.output
        assert "sneaky.hidden() is SECURITY DEFINER without pg_temp last" in result.output
        assert "trading_app_user may DELETE user_signals" in result.output
        assert "trading_app_user may create or change users" in result.output
        assert "trading_worker_user may read users.password_hash" in result.output
        assert f"trading_admin_user is a member of {probe}" in result.output
        assert "outbox has no enabled trigger outbox_events_of_signals" in result.output
    finally:
        with owner.cursor() as cur:
            cur.execute("ALTER TABLE outbox ENABLE TRIGGER outbox_events_of_signals")
            cur.execute("DROP FUNCTION public.careless()")
            cur.execute("DROP SCHEMA sneaky CASCADE")
            cur.execute("REVOKE DELETE ON user_signals FROM trading_app_user")
            cur.execute("REVOKE INSERT (role) ON users FROM trading_app_user")
            cur.execute("REVOKE SELECT (password_hash) ON users FROM trading_worker_user")
            cur.execute(f"DROP ROLE {probe}")
    assert CliRunner().invoke(main, ["verify"]).exit_code == 0


def test_a_signal_forged_with_another_signals_id_is_not_shown_as_that_signal_or_as_sequenced(
    services, client, bearer, owner, relay
):
    """The web role may choose a signal's id (batches take theirs from the sequence); the key is
    (id, created_at), so a row with a sequenced signal's id and an hour-later created_at is
    accepted by PostgreSQL. It must not borrow that signal's stream position."""
    admin = bearer("admin", "high")
    real = client.post("/api/admin/signals", json=signal_body(risk_tier="low"), headers=admin).json
    relay()
    with owner.cursor() as cur:
        cur.execute("SELECT id FROM signals WHERE signal_id = %s", (real["id"],))
        (real_pk,) = cur.fetchone()
    conn = role_conn(services, "app")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO signals (id, symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
                "dedup_key) VALUES (%s, 'BTCUSDT', 'buy', 1, 0.5, 3, 'low', %s) RETURNING signal_id::text",
                (real_pk, f"forge:{uuid.uuid4()}"),
            )
            (forged,) = cur.fetchone()
        conn.commit()
    finally:
        conn.close()
    user = bearer("user", "low")
    listed = client.get("/api/hub/signals?symbol=BTCUSDT&limit=200", headers=user).json["signals"]
    ids = [s["id"] for s in listed]
    assert real["id"] in ids and forged not in ids  # a user sees only sequenced signals
    shown = client.get("/api/admin/signals?symbol=BTCUSDT&limit=200", headers=admin).json["signals"]
    seqs = {s["id"]: s["seq"] for s in shown}
    assert seqs[forged] is None and seqs[real["id"]] is not None  # an admin sees it, unsequenced


def test_a_dedup_key_written_without_its_signal_makes_that_batch_item_a_conflict_not_a_500(
    services, client, bearer, owner
):
    """A compromised web role can store a key hash for a key a client will use: the client's batch
    is answered item by item, that item refused, the others stored."""
    key = f"taken-{uuid.uuid4()}"
    conn = role_conn(services, "app")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO signal_keys (key_hash) "
                "VALUES (substring(sha256(convert_to(%s, 'UTF8')) FROM 1 FOR 16))",
                (f"idem:{key}",),
            )
        conn.commit()
    finally:
        conn.close()
    admin = bearer("admin", "high")
    body = {"signals": [signal_body(dedup_key=key), signal_body()]}
    resp = client.post("/api/admin/signals/batch", json=body, headers=admin)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    first, second = resp.json["results"]
    assert first["status"] == "invalid" and "dedup_key" in first["fields"]
    assert second["status"] == "created"
