"""Celery tasks: thin wrappers named journal.<verb> around the services."""

from celery import shared_task
from sqlalchemy.exc import OperationalError

from journal import broadcast, outbox, receipts, stats

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="journal.relay_outbox", **RETRY)
def relay_outbox() -> int:
    return outbox.relay()


@shared_task(name="journal.flush_receipts", **RETRY)
def flush_receipts() -> int:
    return receipts.flush()


@shared_task(name="journal.push_stats", **RETRY)
def push_stats() -> None:
    broadcast.emit_all("stats:update", stats.refresh())
