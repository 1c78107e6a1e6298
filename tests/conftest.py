"""Fixtures: a real PostgreSQL and Redis (embedded, or from DATABASE_URL/REDIS_URL), apps per role."""

import os
import uuid
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from journal import create_app
from journal.config import role_url
from journal.embedded import create_database, free_port, start_postgres, start_redis
from journal.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


def fresh_database(owner_url: str) -> str:
    """A new, empty database on the same server as `owner_url`; returns its owner URL."""
    url = (
        make_url(owner_url).set(database=f"journal_test_{os.getpid()}").render_as_string(hide_password=False)
    )
    drop_database(url)
    create_database(
        make_url(url).set(database="postgres").render_as_string(hide_password=False), make_url(url).database
    )
    return url


def drop_database(url: str) -> None:
    name = make_url(url).database
    conn = psycopg2.connect(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """Owner DATABASE_URL and REDIS_URL of a fresh test database; exported for child processes."""
    base = os.environ.get("DATABASE_URL") or start_postgres(ROOT / "instance" / "test" / "pgdata")
    redis_url = os.environ.get("REDIS_URL") or start_redis(tmp_path_factory.mktemp("redis"))
    urls = {"DATABASE_URL": fresh_database(base), "REDIS_URL": redis_url}
    migrate(urls["DATABASE_URL"])
    os.environ.update(urls)
    os.environ.setdefault("JWT_SECRET_KEY", "test-jwt-secret-0123456789abcdef0123")
    os.environ.setdefault("SECRET_KEY", "test-secret-0123456789abcdef0123456789")
    yield urls
    drop_database(urls["DATABASE_URL"])


def make_app(role: str, **config):
    # Every in-process test logs in from 127.0.0.1; the address limit has its own test (test_security.py).
    config.setdefault("RATELIMIT_LOGIN_ADDRESS", "100000 per minute")
    return create_app({"DB_ROLE": role, "TESTING": True, "SOCKETIO_ASYNC_MODE": "threading", **config})


@pytest.fixture(scope="session")
def app(services):
    """The web app, connected as trading_app_user."""
    return make_app("app")


@pytest.fixture(scope="session")
def worker_app(services):
    return make_app("worker")


@pytest.fixture(scope="session")
def admin_app(services):
    return make_app("admin")


@pytest.fixture
def owner(services):
    """A psycopg2 connection as the database owner, for counting and checking rows."""
    conn = psycopg2.connect(services["DATABASE_URL"])
    conn.autocommit = True
    yield conn
    conn.close()


def role_conn(services, role: str):
    """A connection as one application role (app, worker, admin), as the stack's processes connect."""
    return psycopg2.connect(role_url(services["DATABASE_URL"], role).replace("+psycopg2", ""))


def assert_refused(services, role: str, statement: str, params: tuple = ()) -> None:
    """The role may not run the statement (permission denied); whatever it tried is rolled back."""
    conn = role_conn(services, role)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.rollback()
        conn.close()


def count(conn, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


@pytest.fixture
def make_user(admin_app):
    """Create a user; returns (email, password, user dict)."""

    def factory(role: str = "user", tier: str = "low", plan: str = "free") -> dict:
        from journal.accounts import create_user

        email = f"{role}-{tier}-{uuid.uuid4().hex[:10]}@example.com"
        password = "correct-horse-battery"
        with admin_app.app_context():
            user = create_user(email, password, role, tier, plan).to_dict()
        return {"email": email, "password": password, **user}

    return factory


@pytest.fixture
def login(client):
    def do_login(user: dict) -> dict:
        resp = client.post("/api/auth/login", json={"email": user["email"], "password": user["password"]})
        assert resp.status_code == 200, resp.json
        return resp.json

    return do_login


@pytest.fixture
def bearer(make_user, login):
    """Authorization headers for a new user of the given role and tier."""

    def headers(role: str = "user", tier: str = "low") -> dict:
        tokens = login(make_user(role, tier))
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    return headers


@pytest.fixture
def relay(worker_app):
    """Run the outbox relay once, as the worker role (the code a Celery worker runs)."""
    from journal.stream.relay import relay as relay_once

    def run() -> int:
        with worker_app.app_context():
            return relay_once()

    return run


def launch_stack(worker_app, logdir, env: dict):
    """Worker, beat and one web process on a fresh port, after sequencing what earlier tests stored
    (so each test sees only its own signals)."""
    from journal.devstack import Stack
    from journal.stream.relay import relay as relay_once

    with worker_app.app_context():
        relay_once()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stack = Stack(logdir, env)
    stack.start_worker()
    stack.start_relay()
    stack.start_beat()
    stack.url = stack.start_web("web", free_port())
    return stack


@pytest.fixture(scope="module")
def stack(services, worker_app, tmp_path_factory):
    # Server-side generation is tested on its own (test_engine.py); here it would add signals.
    stack = launch_stack(worker_app, tmp_path_factory.mktemp("stack-logs"), {"GENERATION_SECONDS": "86400"})
    yield stack
    stack.stop()


@pytest.fixture
def hub(stack, admin_app):
    from tests.stack import Hub

    return Hub(stack.url, admin_app)
