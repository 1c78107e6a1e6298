"""Settings: outside development weak secrets are refused; each child process holds only its own."""

import pytest
from sqlalchemy.engine import make_url

from journal import create_app
from journal.config import role_url
from journal.process_env import child_environ


def test_production_refuses_placeholder_secrets(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app()


def test_production_starts_with_real_secrets(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        monkeypatch.setenv(name, f"{name.lower()}-a-long-random-value-0123456789")
    owner = services["DATABASE_URL"]
    for role in ("app", "admin"):
        url = make_url(role_url(owner, role)).set(password=f"{role}-own-password")
        monkeypatch.setenv(f"DATABASE_URL_{role.upper()}", url.render_as_string(hide_password=False))
    app = create_app({"SOCKETIO_ASYNC_MODE": "threading"})
    assert app.config["ENV"] == "production"
    with pytest.raises(RuntimeError, match="owner"):
        create_app({"SOCKETIO_ASYNC_MODE": "threading", "PROCESS_KIND": "web"})


def test_staging_with_placeholder_secrets_refuses_to_start(services, monkeypatch):
    """Anything but development is production for the checks (as migrate and seed treat it)."""
    monkeypatch.setenv("JOURNAL_ENV", "staging")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SOCKETIO_ASYNC_MODE": "threading"})


def test_production_refuses_a_secret_shorter_than_32_bytes(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 31)
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY .at least 32 bytes"):
        create_app({"SOCKETIO_ASYNC_MODE": "threading"})


def test_a_worker_needs_and_holds_no_signing_key(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    url = make_url(role_url(services["DATABASE_URL"], "worker")).set(password="worker-own-password")
    monkeypatch.setenv("DATABASE_URL_WORKER", url.render_as_string(hide_password=False))
    worker = create_app({"SOCKETIO_ASYNC_MODE": "threading", "PROCESS_KIND": "worker", "DB_ROLE": "worker"})
    assert worker.config["SECRET_KEY"] is None and worker.config["JWT_SECRET_KEY"] is None
    monkeypatch.setenv("SECRET_KEY", "an-operator-set-it-anyway-0123456789")  # still not held
    worker = create_app({"SOCKETIO_ASYNC_MODE": "threading", "PROCESS_KIND": "worker", "DB_ROLE": "worker"})
    assert worker.config["SECRET_KEY"] is None


PARENT = {
    "PATH": "/usr/bin",
    "DATABASE_URL": "postgresql://owner:owner-secret@db/journal",
    "DATABASE_URL_APP": "postgresql://trading_app_user:app-secret@db/journal",
    "DB_APP_PASSWORD": "app-secret",
    "DB_WORKER_PASSWORD": "worker-secret",
    "DB_ADMIN_PASSWORD": "admin-secret",
    "SECRET_KEY": "flask-secret",
    "JWT_SECRET_KEY": "jwt-secret",
}


@pytest.mark.parametrize(
    ("kind", "urls", "keys"),
    [
        ("web", {"DATABASE_URL_APP", "DATABASE_URL_ADMIN"}, {"SECRET_KEY", "JWT_SECRET_KEY"}),
        ("worker", {"DATABASE_URL_WORKER"}, set()),
        ("beat", {"DATABASE_URL_WORKER"}, set()),
    ],
)
def test_child_gets_its_roles_urls_and_no_other_credentials(kind, urls, keys):
    env = child_environ(kind, PARENT, PARENT["DATABASE_URL"])
    assert {name for name in env if name.startswith("DATABASE_URL")} == urls
    assert {"SECRET_KEY", "JWT_SECRET_KEY"} & set(env) == keys
    assert not {name for name in env if name.startswith("DB_")}
    held = " ".join(env.values())
    assert "owner-secret" not in held
    for role, secret in (("app", "app-secret"), ("admin", "admin-secret"), ("worker", "worker-secret")):
        assert (secret in held) == (f"DATABASE_URL_{role.upper()}" in urls)
    assert env.get("DATABASE_URL_APP", PARENT["DATABASE_URL_APP"]) == PARENT["DATABASE_URL_APP"]  # as given


def test_socketio_cors_defaults_to_same_origin(app):
    assert app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] == []
