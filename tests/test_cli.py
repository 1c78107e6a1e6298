"""The `journal` command: create-user validates like the API; migrate is safe to repeat."""

import uuid

from click.testing import CliRunner

from journal.cli import main


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
