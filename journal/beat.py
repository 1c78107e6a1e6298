"""Celery beat's scheduler: RedBeat's (the schedule and a lock in Redis), surviving Redis restarts.

RedBeat extends its lock on every tick and lets any Redis error end beat. Here a tick that meets
Redis down waits and tries again; one that finds the lock lost (it expired while Redis was away,
another beat may hold it now) takes it back only when it is free again, and schedules nothing
meanwhile, so two beats never double the schedule.
"""

import logging

from kombu.exceptions import OperationalError as BrokerError
from redbeat.schedulers import RedBeatScheduler
from redis.exceptions import LockError, RedisError

RETRY_SECONDS = 1.0
log = logging.getLogger(__name__)


class ResilientRedBeatScheduler(RedBeatScheduler):
    def tick(self, *args: object, **kwargs: object) -> float:
        try:
            if self.lock_key and self.lock is not None and not self.lock.owned():
                if not self.lock.acquire(blocking=False):
                    return RETRY_SECONDS  # another beat holds it: stand by
                log.warning("beat: lock taken back")
            return super().tick(*args, **kwargs)
        except (RedisError, LockError, BrokerError) as err:
            log.warning("beat: Redis unavailable or lock lost (%s); retrying in %.0f s", err, RETRY_SECONDS)
            return RETRY_SECONDS
