"""The `journal` command: create-user validates like the API; migrate is safe to repeat."""

import os
import uuid

import pytest
from click.testing import CliRunner

from journal.cli import child_env, main


def test_create_user_and_its_errors(services):
    runner = CliRunner()
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    args = ["create-user", email, "--password", "long-enough-pw", "--role", "admin", "--risk-tier", "high"]
    ok = runner.invoke(main, args)
    assert ok.exit_code == 0, ok.output
    assert f"created {email} (admin, tier high" in ok.output
    again = runner.invoke(main, args)
    assert again.exit_code != 0 and "exists already" in again.output
    bad = runner.invoke(main, ["create-user", "not-an-email", "--password", "short"])
    assert bad.exit_code != 0 and "email" in bad.output and "password" in bad.output
    tier = runner.invoke(main, ["create-user", email, "--password", "x" * 10, "--risk-tier", "extreme"])
    assert tier.exit_code != 0 and "extreme" in tier.output


def test_migrate_twice(services):
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 0 and "nothing new" in result.output


def test_backtest_command(services):
    import json

    result = CliRunner().invoke(main, ["backtest", "ETHUSDT", "--candles", "600", "--min-confidence", "0"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["symbol"] == "ETHUSDT" and report["trades"] == sum(report["results"].values())


def test_verify_finds_a_tampered_audit_row(services, owner, client, bearer, relay):
    from journal.devstack import signal_body

    client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high"))
    relay()
    result = CliRunner().invoke(main, ["verify"])
    assert result.exit_code == 0, result.output
    # Only a superuser could do this: the application roles cannot UPDATE audit_log, and a guard
    # trigger refuses any change but filling in the chain; the forger switches the guard off first.
    with owner.cursor() as cur:
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard_row")
        cur.execute(
            "UPDATE audit_log SET action = 'signal.forged' WHERE id = (SELECT max(id) FROM audit_log)"
        )
    try:
        result = CliRunner().invoke(main, ["verify"])
        assert result.exit_code == 1 and "hash does not match" in result.output
    finally:
        with owner.cursor() as cur:
            cur.execute("UPDATE audit_log SET action = 'signal.create' WHERE action = 'signal.forged'")
            cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard_row")


def test_audit_rows_cannot_be_rewritten_even_by_the_owner(services, owner, client, bearer, relay):
    from psycopg2 import errors

    from journal.devstack import signal_body

    client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high"))
    relay()
    for statement in (
        "UPDATE audit_log SET action = 'signal.forged' WHERE id = (SELECT max(id) FROM audit_log)",
        "UPDATE audit_log SET hash = 'x' WHERE id = (SELECT max(id) FROM audit_log)",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(errors.InsufficientPrivilege), owner.cursor() as cur:
            cur.execute(statement)


def test_worker_command_passes_the_operators_worker_url_and_needs_no_owner_url(services, monkeypatch):
    given = "postgresql://trading_worker_user:operator-set@db.example/journal"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DATABASE_URL_WORKER", given)
    monkeypatch.setenv("DATABASE_URL_APP", "postgresql://trading_app_user:not-for-workers@db.example/journal")
    for kind in ("worker", "beat"):
        env = child_env(kind)  # what `journal worker` / `journal beat` exec celery with
        assert env["DATABASE_URL_WORKER"] == given and env["JOURNAL_DB_ROLE"] == "worker"
        assert {name for name in env if name.startswith("DATABASE_URL")} == {"DATABASE_URL_WORKER"}
    assert "DATABASE_URL" not in os.environ  # no owner URL was looked for (nor an embedded server started)
