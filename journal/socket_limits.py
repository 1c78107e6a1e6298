"""Limits on what one user's sockets may ask of the server: replays per user (in Redis), acks per socket.

A replay (a connect whose cursor is behind, or `signals:sync`) reads the database, so each user
may start SOCKET_REPLAYS_PER_USER_PER_MINUTE of them a minute, counted in Redis over all their
sockets on every web process: reconnecting, or opening more sockets, does not reset the count.
Honest clients stay far below it: a reconnect storm after a web restart costs each user one
replay, and one whose cursor is already current costs none (journal/sockets.py `up_to_date`).
Acks are counted per socket in memory; receipts are best-effort (journal/stream/receipts.py).
"""

import time

from flask import current_app

from journal.extensions import get_redis

WINDOW_SECONDS = 60
ACKS_PER_MINUTE = 240  # the Python client acks every 0.5 s, the dashboard every second


def replay_allowed(user_id: int) -> tuple[bool, int]:
    """Count one replay for the user in this minute's window; (allowed, seconds until the next window)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"limit:replays:{user_id}:{window}"
    pipe = get_redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS * 2)
    used, _ = pipe.execute()
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
    return used <= current_app.config["SOCKET_REPLAYS_PER_USER_PER_MINUTE"], retry_after


class WindowCounter:
    """Events in the current minute of one socket (two integers: cheap for thousands of sockets)."""

    __slots__ = ("window", "used")

    def __init__(self) -> None:
        self.window, self.used = 0, 0

    def take(self, per_minute: int) -> bool:
        """Count one more event; False once more than `per_minute` happened in this minute."""
        window = int(time.time() // WINDOW_SECONDS)
        if window != self.window:
            self.window, self.used = window, 0
        self.used += 1
        return self.used <= per_minute

    def first_refusal(self, per_minute: int) -> bool:
        """Whether the last `take` was the first one refused in this minute (log it once, not each)."""
        return self.used == per_minute + 1
