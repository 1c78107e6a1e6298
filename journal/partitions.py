"""Monthly partitions of signals and user_signals, made ahead of time (an insert past the last fails)."""

from sqlalchemy import text

from journal.extensions import db

MONTHS_AHEAD = 3


def create_partitions(months_ahead: int = MONTHS_AHEAD) -> int:
    """Make this month's partitions and the next `months_ahead` months' where missing; returns how
    many were made. Runs as the worker role through create_month_partitions (migration 012)."""
    made = db.session.scalar(text("SELECT create_month_partitions(:n)"), {"n": months_ahead})
    db.session.commit()
    return made
