"""One bench run's world: fresh embedded PostgreSQL and Redis, the hub's schema, users and their tokens."""

import atexit
import os
import resource
import secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from flask import Flask
from sqlalchemy import func, select

from journal import create_app
from journal.accounts import create_user, load_account
from journal.devstack import signal_body
from journal.domain import STATUSES, TIERS, TIMEFRAME_SECONDS, grade_for
from journal.embedded import ensure_services
from journal.extensions import db
from journal.migrate import migrate
from journal.models import User, signal_dict
from journal.passwords import hash_password
from journal.stream import catchup
from journal.stream.emit import rooms_by_signal_tier
from journal.stream.record import EXPIRY_CANDLES
from journal.tokens import start_session

TRADER_EMAIL = "trader{}@bench.example"
ADMIN_EMAIL = "admin@bench.example"
# Tokens are minted here as a log-in does (start_session) and must outlive a full run (about an hour).
TOKEN_LIFETIME = timedelta(hours=12)


# Descriptors a server or harness process needs beside its sockets (database, Redis, logs, listeners).
SPARE_FILES = 1000


def raise_open_files(sockets: int) -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (the servers and harnesses started from here inherit it);
    refuse to start when even that is too low for `sockets` in one process."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < sockets + SPARE_FILES:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} is too low for {sockets} sockets (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def signal_template() -> dict:
    """A signal as the relay emits it (journal.models.signal_dict); the feeder sets id, seq, prev, tier."""
    body = signal_body(stop_loss="30000", take_profit="130000")
    created = datetime.now(UTC)
    prices = {name: Decimal(body[name]) for name in ("entry_price", "stop_loss", "take_profit")}
    row = SimpleNamespace(
        **{**body, **prices},
        signal_id=uuid.uuid4(),
        stream_seq=0,
        grade=grade_for(body["confidence"]),
        source="admin",
        strategy=None,
        status=STATUSES[0],
        outcome=None,
        outcome_price=None,
        outcome_at=None,
        expires_at=created + timedelta(seconds=EXPIRY_CANDLES * TIMEFRAME_SECONDS[body["timeframe"]]),
        created_at=created,
    )
    return signal_dict(row)


@dataclass
class Environment:
    """The services, an admin-role app for set-up, and the routing the relay uses (signal_risk_map)."""

    workdir: Path
    urls: dict[str, str]
    app: Flask
    routes: dict[str, list[str]]
    tokens: list[dict] = field(default_factory=list)

    def sockets(self, count: int) -> list[dict]:
        """{token, tier} of `count` distinct users, tiers in turn (one user per socket, as dashboards)."""
        if len(self.tokens) < count:
            with self.app.app_context():
                users = ensure_traders(count)
                self.tokens = [{"token": access_token(u), "tier": u.risk_tier} for u in users]
        return self.tokens[:count]

    def receivers(self, by_room: dict[str, int]) -> dict[str, int]:
        """signal tier -> how many of the connected sockets (counted by room) receive a signal of it."""
        return {tier: sum(by_room.get(room, 0) for room in self.routes.get(tier, [])) for tier in TIERS}

    def admin_token(self) -> str:
        with self.app.app_context():
            admin = db.session.scalar(select(User).where(User.email == ADMIN_EMAIL))
            if admin is None:
                admin = create_user(ADMIN_EMAIL, secrets.token_hex(16), "admin", TIERS[-1])
            return access_token(admin)

    def stream_position(self) -> int:
        with self.app.app_context():
            return catchup.current_seq()


def access_token(user: User) -> str:
    """An access token of a new session of `user`, as a log-in would give (without the password check)."""
    return start_session(load_account(user.id)).access_token


def ensure_traders(count: int) -> list[User]:
    """The first `count` bench traders, created in one insert; nobody logs in as them (tokens are minted)."""
    pattern = TRADER_EMAIL.format("%")
    have = db.session.scalar(select(func.count()).select_from(User).where(User.email.like(pattern)))
    if have < count:
        password_hash = hash_password(secrets.token_hex(16))
        db.session.add_all(
            User(email=TRADER_EMAIL.format(i), password_hash=password_hash, risk_tier=TIERS[i % len(TIERS)])
            for i in range(have, count)
        )
        db.session.commit()
    traders = select(User).where(User.email.like(pattern)).order_by(User.id).limit(count)
    return list(db.session.scalars(traders))


def open_environment(sockets: int) -> Environment:
    """Fresh embedded servers in a temporary directory (never DATABASE_URL/REDIS_URL: bench users would
    land in a real database), migrated; secrets of its own, exported for the processes it starts."""
    raise_open_files(sockets)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["JWT_SECRET_KEY"] = secrets.token_hex(32)
    os.environ["SECRET_KEY"] = secrets.token_hex(32)
    workdir = Path(tempfile.mkdtemp(prefix="journal-bench-"))
    atexit.register(shutil.rmtree, workdir, True)  # registered first, so it runs after the servers stop
    urls = ensure_services(workdir)
    migrate(urls["DATABASE_URL"])
    app = create_app(
        {"DB_ROLE": "admin", "SOCKETIO_ASYNC_MODE": "threading", "JWT_ACCESS_TOKEN_EXPIRES": TOKEN_LIFETIME}
    )
    with app.app_context(), db.engine.connect() as conn:
        routes = rooms_by_signal_tier(conn)
    return Environment(workdir, urls, app, routes)
