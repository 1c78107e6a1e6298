"""Celery tasks: thin wrappers named journal.<verb> around the services."""

from celery import shared_task
from sqlalchemy.exc import OperationalError

from journal import broadcast, generation, outbox, outcomes, receipts, stats

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="journal.relay_outbox", **RETRY)
def relay_outbox() -> int:
    return outbox.relay()


@shared_task(name="journal.flush_receipts", **RETRY)
def flush_receipts() -> int:
    return receipts.flush()


@shared_task(name="journal.push_stats", **RETRY)
def push_stats() -> bool:
    """Refresh the cached statistics; push stats:update to everyone only when they changed."""
    data = stats.refresh()
    if stats.changed(data):
        broadcast.emit_all("stats:update", data)
        return True
    return False


@shared_task(name="journal.generate_signals", time_limit=120, soft_time_limit=110, **RETRY)
def generate_signals() -> int:
    return len(generation.generate())


@shared_task(name="journal.check_outcomes", **RETRY)
def check_outcomes() -> int:
    return outcomes.check_active()
