"""Accounts: create users and the demo accounts that `journal run` seeds."""

from journal.auth import hash_password
from journal.extensions import db
from journal.models import User

DEMO_ACCOUNTS = (
    ("admin@example.com", "admin-demo-pass", "admin", "high"),
    ("low@example.com", "trader-demo-pass", "user", "low"),
    ("medium@example.com", "trader-demo-pass", "user", "medium"),
    ("high@example.com", "trader-demo-pass", "user", "high"),
)


def create_user(
    email: str, password: str, role: str = "user", risk_tier: str = "low", plan: str = "free"
) -> User:
    user = User(
        email=email.lower(),
        password_hash=hash_password(password),
        role=role,
        risk_tier=risk_tier,
        plan=plan,
    )
    db.session.add(user)
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(db.func.lower(User.email) == email.lower()))


def seed_demo() -> list[tuple[str, str, str, str]]:
    """Create the demo accounts that do not exist yet; return all of them."""
    for email, password, role, tier in DEMO_ACCOUNTS:
        if find_user(email) is None:
            create_user(email, password, role, tier, "pro")
    return list(DEMO_ACCOUNTS)
