"""The least-privilege roles: no DELETE, no TRUNCATE, no change to a signal's immutable columns."""

import psycopg2
import pytest
from psycopg2 import errors

from journal.devstack import signal_body
from tests.conftest import assert_refused, role_conn

ROLES = ("app", "worker", "admin")
FORBIDDEN = (
    "DELETE FROM signals",
    "TRUNCATE signals",
    "UPDATE signals SET entry_price = 1",
    "UPDATE signals SET symbol = 'ETHUSDT'",
    "UPDATE signals SET risk_tier = 'high'",
    "UPDATE signals SET payload = '{}'",
    "UPDATE signals SET created_at = now()",
    "DELETE FROM users",
    "DELETE FROM user_signals",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET action = 'x'",
    "TRUNCATE users, user_signals, outbox, audit_log",
)


@pytest.fixture
def one_signal(client, bearer):
    resp = client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high"))
    assert resp.status_code == 201
    return resp.json


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("statement", FORBIDDEN)
def test_role_cannot(services, one_signal, role, statement):
    assert_refused(services, role, statement)


@pytest.mark.parametrize("role", ROLES)
def test_roles_are_not_owners(services, role):
    conn = role_conn(services, role)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False)
    conn.close()


def test_only_admin_archives(services, one_signal):
    for role, allowed in (("app", False), ("worker", False), ("admin", True)):
        conn = role_conn(services, role)
        with conn.cursor() as cur:
            if allowed:
                cur.execute(
                    "UPDATE signals SET status = 'archived' WHERE signal_id = %s", (one_signal["id"],)
                )
                assert cur.rowcount == 1
            else:
                with pytest.raises(errors.InsufficientPrivilege):
                    cur.execute("UPDATE signals SET status = 'archived'")
        conn.rollback()
        conn.close()


def test_outcome_is_recorded_once(services, one_signal):
    conn = role_conn(services, "worker")
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE signals SET outcome = 'WIN', outcome_price = 67000, outcome_at = now() "
            "WHERE signal_id = %s",
            (one_signal["id"],),
        )
        with pytest.raises(errors.InsufficientPrivilege):
            cur.execute("UPDATE signals SET outcome = 'LOSS' WHERE signal_id = %s", (one_signal["id"],))
    conn.rollback()
    conn.close()


def test_owner_cannot_delete_signals_either(owner, one_signal):
    with pytest.raises(errors.InsufficientPrivilege), owner.cursor() as cur:
        cur.execute("DELETE FROM signals WHERE signal_id = %s", (one_signal["id"],))


def test_audit_log_is_hash_chained(owner, one_signal, relay):
    relay()  # the relay chains what was appended since its last pass
    with owner.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_log WHERE chain_pos IS NULL")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT prev_hash, hash FROM audit_log ORDER BY chain_pos")
        rows = cur.fetchall()
    assert rows
    for before, after in zip(rows, rows[1:], strict=False):
        assert after[0] == before[1]
    assert all(len(row[1]) == 64 for row in rows)


# Each role's own time limits (migration 007): a stuck statement or lock gives up instead of piling up.
LIMITS = {
    "app": ("5s", "2s", "30s"),
    "admin": ("10s", "3s", "30s"),
    "worker": ("30s", "10s", "2min"),
}


@pytest.mark.parametrize("role", ROLES)
def test_a_stuck_statement_of_each_role_gives_up_at_its_time_limit(services, role):
    conn = role_conn(services, role)
    try:
        with conn.cursor() as cur:
            got = []
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
                cur.execute(f"SHOW {name}")
                got.append(cur.fetchone()[0])
        assert tuple(got) == LIMITS[role]
    finally:
        conn.close()


def test_beat_makes_partitions_ahead_and_the_roles_cannot_reach_one_directly(services, worker_app, owner):
    from journal.partitions import create_partitions

    with worker_app.app_context():
        create_partitions(5)
        assert create_partitions(5) == 0  # made once
    with owner.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'signals'::regclass "
            "AND inhrelid::regclass::text > 'signals_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')"
        )
        assert cur.fetchone()[0] >= 5
        cur.execute("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')")
        partition = f"signals_{cur.fetchone()[0]}"
    for role in ROLES:  # a partition is reached through its parent only, whose triggers guard it
        assert_refused(services, role, f"SELECT * FROM {partition}")
        assert_refused(services, role, f"TRUNCATE {partition}")
    conn = psycopg2.connect(services["DATABASE_URL"])  # not even the owner: the guard is on every partition
    try:
        for statement in (f"TRUNCATE {partition} CASCADE", f"DELETE FROM {partition}"):
            with pytest.raises(errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(statement)
            conn.rollback()
    finally:
        conn.rollback()
        conn.close()
