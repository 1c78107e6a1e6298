"""Attacks on the database roles: shadowing objects in pg_temp, creating objects, widening own rights."""

import os
import uuid

import psycopg2
import pytest
from click.testing import CliRunner

from journal.cli import main
from journal.devstack import signal_body
from tests.conftest import assert_refused

ROLES = ("app", "worker", "admin")


@pytest.fixture
def attacker(services, owner):
    """A login role that, unlike the application roles, may create temporary objects: what an
    application role could do if TEMP were ever granted back. Yields a connection as it."""
    name = f"attacker_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with owner.cursor() as cur:
        cur.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'attack-attack'")
        cur.execute("SELECT current_database()")
        database = cur.fetchone()[0]
        cur.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {name}')
        cur.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        cur.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name}")
        cur.execute(f"GRANT SELECT, INSERT ON audit_log TO {name}")
        cur.execute(f"GRANT SELECT ON signal_stats TO {name}")
        cur.execute(f"GRANT SELECT, UPDATE (outcome, outcome_price, outcome_at) ON signals TO {name}")
    url = psycopg2.extensions.parse_dsn(services["DATABASE_URL"].replace("+psycopg2", ""))
    conn = psycopg2.connect(**{**url, "user": name, "password": "attack-attack"})
    yield conn
    conn.close()
    with owner.cursor() as cur:
        cur.execute(f"DROP OWNED BY {name}")
        cur.execute(f"DROP ROLE {name}")


def shadow_with_spy(cur, table: str) -> None:
    """pg_temp.<table>, whose use runs pg_temp.spy(), which writes down the user it runs as."""
    cur.execute("CREATE TEMP TABLE spied (who text)")
    cur.execute(
        "CREATE FUNCTION pg_temp.spy() RETURNS boolean LANGUAGE sql AS "
        "$$ INSERT INTO pg_temp.spied VALUES (current_user) RETURNING true $$"
    )
    cur.execute(f"CREATE TEMP VIEW {table} AS SELECT * FROM public.{table} WHERE pg_temp.spy()")


def test_temp_view_named_audit_log_runs_nothing_as_the_owner(attacker):
    probe = "INSERT INTO public.audit_log (action, entity, entity_id) VALUES ('probe', 'probe', 'x')"
    with attacker.cursor() as cur:
        cur.execute(probe)  # the chain then has a row for the trigger's read to pass through the view
        shadow_with_spy(cur, "audit_log")
        cur.execute(probe)
        cur.execute("SELECT who FROM pg_temp.spied")
        assert cur.fetchall() == []  # the chain trigger read public.audit_log, not the view
    attacker.rollback()


def test_temp_table_with_trigger_named_signal_stats_runs_nothing_as_the_owner(attacker, client, bearer):
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
    [("stream_seq", "1"), ("outcome", "'WIN'"), ("status", "'archived'"), ("created_at", "now()")],
)
def test_signal_insert_cannot_set_server_columns(services, role, column, value):
    assert_refused(
        services,
        role,
        "INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
        f"dedup_key, {column}) VALUES ('BTCUSDT', 'buy', 100, 90, 120, 'low', %s, {value})",
        (f"attack:{uuid.uuid4()}",),
    )


def test_verify_reports_a_definer_without_pg_temp_and_a_widened_grant(services, owner, relay):
    relay()
    assert CliRunner().invoke(main, ["verify"]).exit_code == 0
    with owner.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION public.careless() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "SET search_path = public AS 'SELECT 1'"
        )
        cur.execute("GRANT DELETE ON user_signals TO trading_app_user")
    try:
        result = CliRunner().invoke(main, ["verify"])
        assert result.exit_code == 1
        assert "careless() is SECURITY DEFINER without pg_temp last" in result.output
        assert "trading_app_user may DELETE user_signals" in result.output
    finally:
        with owner.cursor() as cur:
            cur.execute("DROP FUNCTION public.careless()")
            cur.execute("REVOKE DELETE ON user_signals FROM trading_app_user")
