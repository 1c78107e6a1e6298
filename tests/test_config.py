"""Settings: production refuses missing or placeholder secrets."""

import pytest
from sqlalchemy.engine import make_url

from journal import create_app
from journal.config import role_url


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


def test_socketio_cors_defaults_to_same_origin(app):
    assert app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] == []
