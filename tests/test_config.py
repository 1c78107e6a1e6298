"""Settings: production refuses missing or placeholder secrets."""

import pytest

from journal import create_app


def test_production_refuses_placeholder_secrets(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app()


def test_production_starts_with_real_secrets(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    for name in (
        "SECRET_KEY",
        "JWT_SECRET_KEY",
        "DB_APP_PASSWORD",
        "DB_WORKER_PASSWORD",
        "DB_ADMIN_PASSWORD",
    ):
        monkeypatch.setenv(name, f"{name.lower()}-a-long-random-value-123456")
    app = create_app({"SOCKETIO_ASYNC_MODE": "threading"})
    assert app.config["ENV"] == "production"


def test_socketio_cors_defaults_to_same_origin(app):
    assert app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] == []
