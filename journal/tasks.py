"""Celery tasks: thin wrappers named journal.<verb> around the services."""

from celery import shared_task
from sqlalchemy.exc import OperationalError

from journal import partitions, stats
from journal.engine import generation, outcomes
from journal.stream import emit, events, receipts

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name=events.FLUSH_RECEIPTS, **RETRY)
def flush_receipts() -> int:
    return receipts.flush()


@shared_task(name=events.PUSH_STATS, **RETRY)
def push_stats() -> bool:
    """Refresh the cached statistics; push stats:update to everyone only when they changed."""
    data = stats.refresh()
    if stats.changed(data):
        emit.emit_all(events.STATS_UPDATE, data)
        return True
    return False


@shared_task(name=events.GENERATE_SIGNALS, time_limit=120, soft_time_limit=110, **RETRY)
def generate_signals() -> int:
    return len(generation.generate())


@shared_task(name=events.CHECK_OUTCOMES, **RETRY)
def check_outcomes() -> int:
    return outcomes.check_active()


@shared_task(name=events.CREATE_PARTITIONS, **RETRY)
def create_partitions() -> int:
    return partitions.create_partitions()
