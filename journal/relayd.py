"""The relay process (`journal relay`): outbox relay passes on every nudge and at least once a second.

Its own process rather than a Celery task, so that delivery depends on PostgreSQL and the Redis
message queue only: a broker restart that leaves a Celery worker connected but no longer
consuming cannot stop the stream, and no request pays for queueing a task. Several relay
processes may run (one standby per host, say); the advisory lock in relay() lets one pass run at
a time. A pass that meets PostgreSQL or Redis down is retried after a delay doubling up to
MAX_BACKOFF_SECONDS, with a log line; nothing is lost meanwhile, the rows wait in the outbox.
"""

import logging
import os
import signal
import threading
import time

import redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

os.environ.setdefault("JOURNAL_DB_ROLE", "worker")

from journal import create_app  # noqa: E402
from journal.startup import console_logger, wait_for_services  # noqa: E402
from journal.stream import relay  # noqa: E402

POLL_SECONDS = 1.0  # the longest a committed event waits when its nudge was lost
FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 0.2, 5.0
log = console_logger("journal.relay")


class Nudges:
    """The relay's subscription to nudges; `wait` returns early when one arrives."""

    def __init__(self, url: str) -> None:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=5)
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(relay.NUDGE_CHANNEL)

    def wait(self, seconds: float) -> None:
        """Until a nudge arrives or `seconds` pass; then take every nudge already waiting (one pass
        serves them all)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.pubsub.get_message(timeout=left) is not None:
                break
        while self.pubsub.get_message(timeout=0) is not None:
            pass

    def close(self) -> None:
        self.pubsub.close()


def run(stop: threading.Event) -> None:
    """Relay until `stop` is set."""
    app = create_app({"PROCESS_KIND": "relay"})
    wait_for_services(app)
    cache = app.extensions["redis"]
    nudges, backoff = None, FIRST_BACKOFF_SECONDS
    with app.app_context():
        while not stop.is_set():
            try:
                nudges = nudges or Nudges(app.config["REDIS_URL"])
                relay.relay()
                cache.set(relay.HEARTBEAT_KEY, time.time())
                if backoff > FIRST_BACKOFF_SECONDS:
                    log.info("relay: passes succeed again")
                backoff = FIRST_BACKOFF_SECONDS
                nudges.wait(POLL_SECONDS)
            except (RedisError, SQLAlchemyError, OSError) as err:
                log.warning("relay: pass failed (%s: %s); again in %.1f s", type(err).__name__, err, backoff)
                if nudges:
                    nudges.close()
                nudges = None
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("relay: started")
    run(stop)
    log.info("relay: stopped")


if __name__ == "__main__":
    main()
