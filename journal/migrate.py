"""Applies database_migrations/*.sql in order as the owner, records what ran, sets role passwords."""

from pathlib import Path

import psycopg2
from psycopg2 import sql

from journal.config import PLACEHOLDER, ROLES, env, role_password

MIGRATIONS = Path(__file__).resolve().parent.parent / "database_migrations"
LOCK_KEY = 7_301_001


def pending(applied: set[str]) -> list[Path]:
    return [path for path in sorted(MIGRATIONS.glob("*.sql")) if path.name not in applied]


def role_passwords() -> dict[str, str]:
    """The roles' passwords from DB_*_PASSWORD; outside development a placeholder is refused."""
    passwords = {role: role_password(role) for role in ROLES}
    weak = [ROLES[role][1] for role, password in passwords.items() if password == PLACEHOLDER]
    if weak and env("JOURNAL_ENV", "development") != "development":
        raise RuntimeError(f"refusing to set a placeholder role password; set {', '.join(weak)}")
    return passwords


def migrate(owner_url: str) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; safe to run twice."""
    passwords = role_passwords()
    conn = psycopg2.connect(owner_url)
    ran = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT name FROM schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
        for path in pending(applied):
            with conn, conn.cursor() as cur:
                cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
            ran.append(path.name)
        with conn, conn.cursor() as cur:
            for role, (user, _) in ROLES.items():
                cur.execute(
                    sql.SQL("ALTER ROLE {} WITH PASSWORD %s").format(sql.Identifier(user)),
                    (passwords[role],),
                )
            cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    finally:
        conn.close()
    return ran
