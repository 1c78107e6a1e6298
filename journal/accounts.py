"""Accounts: the cached account record every request and socket checks, and the admin's changes to it.

The record (role, tier, plan, disabled, tokens_valid_after) is read from PostgreSQL and cached in
Redis, signed, for at most a minute (journal/account_cache.py); an admin's change writes the
database as the admin role, appends an audit row, then invalidates the cached record and announces
the change on the auth event stream, so open sockets of that user follow it within a second
(journal/socket_sessions.py).
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from journal import account_cache
from journal.extensions import db, get_redis
from journal.models import User
from journal.passwords import hash_password

AUTH_EVENTS = "auth:events"  # a Redis stream: {kind: "session", fid} or {kind: "user", uid}
AUTH_EVENTS_KEEP = 10_000
DEMO_ACCOUNTS = (
    ("admin@example.com", "admin-demo-pass", "admin", "high"),
    ("low@example.com", "trader-demo-pass", "user", "low"),
    ("medium@example.com", "trader-demo-pass", "user", "medium"),
    ("high@example.com", "trader-demo-pass", "user", "high"),
)


class AccountError(Exception):
    """An admin change that cannot be made; `fields` names what is wrong."""

    def __init__(self, message: str, fields: dict, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.fields, self.status = message, fields, status


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    risk_tier: str
    plan: str
    disabled: bool
    tokens_valid_after: float  # epoch seconds; tokens issued before are dead (0: none)
    created_at: str

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["tokens_valid_after"]
        return data

    def accepts(self, issued_at: float) -> bool:
        """Whether a token issued at `issued_at` may still act for this account."""
        return not self.disabled and issued_at >= self.tokens_valid_after


account_key = account_cache.record_key


def _from_user(user: User) -> Account:
    valid_after = user.tokens_valid_after
    return Account(
        id=user.id,
        email=user.email,
        role=user.role,
        risk_tier=user.risk_tier,
        plan=user.plan,
        disabled=user.disabled,
        tokens_valid_after=valid_after.timestamp() if valid_after else 0.0,
        created_at=user.created_at.isoformat(),
    )


def load_account(user_id: int, cached: str | None = None) -> Account | None:
    """The account from its cached record (`cached`, when the caller fetched it already) if that is
    genuine and current, else from the database (and cached)."""
    record = account_cache.unseal(user_id, cached)
    if record is not None:
        return Account(**record)
    seen = account_cache.generation(user_id)  # before the read: a change committed after it wins
    user = db.session.get(User, user_id)
    if user is None:
        return None
    account = _from_user(user)
    account_cache.store(user_id, seen, asdict(account))
    return account


def load_accounts(user_ids: list[int]) -> dict[int, Account]:
    """Many accounts at once (a socket sweep): two MGETs, then one query for the records not cached."""
    cache = get_redis()
    raw = cache.mget([account_key(uid) for uid in user_ids]) if user_ids else []
    found = {}
    for uid, cached in zip(user_ids, raw, strict=True):
        record = account_cache.unseal(uid, cached)
        if record is not None:
            found[uid] = Account(**record)
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        seen = dict(zip(missing, cache.mget([account_cache.generation_key(u) for u in missing]), strict=True))
        for user in db.session.scalars(db.select(User).where(User.id.in_(missing))):
            found[user.id] = account = _from_user(user)
            account_cache.store(user.id, seen[user.id] or "", asdict(account))
    return found


def cached_account(user_id: int) -> Account | None:
    """The account as cached (one Redis GET), else from the database (and cached)."""
    return load_account(user_id, get_redis().get(account_key(user_id)))


def announce(**event: str | int) -> None:
    """Append an auth event (a session ended, an account changed) for every web process."""
    get_redis().xadd(AUTH_EVENTS, {k: str(v) for k, v in event.items()}, maxlen=AUTH_EVENTS_KEEP)


def forget_account(user_id: int) -> None:
    """After a change is committed: invalidate the cached record (no reader that read before the
    commit can put it back) and tell every web process that this account changed."""
    pipe = get_redis().pipeline()
    account_cache.invalidate(pipe, user_id)
    pipe.xadd(AUTH_EVENTS, {"kind": "user", "uid": str(user_id)}, maxlen=AUTH_EVENTS_KEEP)
    pipe.execute()


def find_user(email: str) -> User | None:
    # lower() on both sides, as the unique index users_email_key compares the e-mail create_user stores
    found = db.select(User).where(db.func.lower(User.email) == db.func.lower(email.lower()))
    return db.session.scalar(found)


def create_user(
    email: str,
    password: str,
    role: str = "user",
    risk_tier: str = "low",
    plan: str = "free",
    actor_id: int | None = None,
) -> User:
    """Create an account, audited, as the admin role (the web role cannot insert users): through the
    app's admin bind when it has one, else its default connection (the CLI runs as the admin role)."""
    engine = db.engines.get("admin", db.engine)
    user = User(
        email=email.lower(), password_hash=hash_password(password), role=role, risk_tier=risk_tier, plan=plan
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(user)
        try:
            session.flush()
        except IntegrityError as err:  # the e-mail is taken, in any case (also by a concurrent create)
            if getattr(err.orig.diag, "constraint_name", None) != "users_email_key":
                raise
            raise AccountError(
                "An account with this e-mail exists.", {"email": ["exists already"]}, 409
            ) from None
        detail = json.dumps({"email": user.email, "role": role, "risk_tier": risk_tier, "plan": plan})
        session.execute(
            AUDIT, {"actor": actor_id, "action": "user.create", "id": str(user.id), "detail": detail}
        )
        session.commit()
    return user


def seed_demo() -> list[tuple[str, str, str, str]]:
    """Create the demo accounts that do not exist yet; return all of them."""
    for email, password, role, tier in DEMO_ACCOUNTS:
        if find_user(email) is None:
            create_user(email, password, role, tier, "pro")
    return list(DEMO_ACCOUNTS)


AUDIT = text(
    "INSERT INTO audit_log (actor_id, action, entity, entity_id, detail) "
    "VALUES (:actor, :action, 'user', :id, CAST(:detail AS jsonb))"
)
CHANGE_USER = text(
    "UPDATE users SET risk_tier = coalesce(:risk_tier, risk_tier), plan = coalesce(:plan, plan), "
    "role = coalesce(:role, role), disabled = coalesce(:disabled, disabled), "
    "tokens_valid_after = CASE WHEN :cut THEN now() ELSE tokens_valid_after END "
    "WHERE id = :id RETURNING id"
)


def change_user(actor_id: int, user_id: int, changes: dict) -> Account:
    """Apply an admin's change (risk_tier, plan, role, disabled) as the admin role, audited.

    Disabling a user or changing their role ends every token issued before; a tier or plan change
    takes effect on the next request and moves open sockets to the new tier room.
    """
    if user_id == actor_id and ("role" in changes or changes.get("disabled")):
        field = "role" if "role" in changes else "disabled"
        raise AccountError("An admin cannot demote or disable their own account.", {field: ["not yourself"]})
    before = db.session.get(User, user_id)
    if before is None:
        raise AccountError("No such user.", {"id": ["unknown"]}, status=404)
    previous = {name: getattr(before, name) for name in changes}
    cut = changes.get("disabled") is True or changes.get("role", before.role) != before.role
    db.session.rollback()  # ends the read; the next read sees the admin role's commit
    values = {name: changes.get(name) for name in ("risk_tier", "plan", "role", "disabled")}
    with db.engines["admin"].begin() as conn:
        conn.execute(CHANGE_USER, {**values, "cut": cut, "id": user_id})
        detail = {"changes": changes, "before": previous, "at": datetime.now(UTC).isoformat()}
        audit = {"actor": actor_id, "action": "user.update", "id": str(user_id), "detail": json.dumps(detail)}
        conn.execute(AUDIT, audit)
    forget_account(user_id)
    return load_account(user_id)
