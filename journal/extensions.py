"""Unbound extensions (db, jwt, socketio, limiter), the shared Redis client and the Celery factory."""

import flask_limiter
import redis
from celery import Celery, Task
from flask import Flask, current_app, g, has_request_context, request
from flask_jwt_extended import JWTManager
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, adding its X-RateLimit-* and Retry-After headers only where a client acts on
    them: on API-key requests (their plan's daily allowance) and on every 429. Computing them costs
    two Redis round trips, which other requests (a dashboard's, an admin's post) are spared."""

    @property
    def _headers_enabled(self) -> bool | None:
        if self._headers_configured is None:  # not configured yet: init_app reads the setting
            return None
        if not self._headers_configured or not has_request_context():
            return False
        return g.get("rate_limited", False) or request.headers.get("Authorization", "").startswith("ApiKey ")

    @_headers_enabled.setter
    def _headers_enabled(self, value: bool) -> None:
        self._headers_configured = value


db = SQLAlchemy()
jwt = JWTManager()
socketio = SocketIO()
limiter = Limiter(key_func=get_remote_address)


# A request meets a Redis outage within about two seconds (503 with Retry-After), never a long hang:
# short timeouts and two quick retries instead of redis-py's ten with backoff.
REDIS_CLIENT_OPTIONS = {
    "socket_timeout": 2,
    "socket_connect_timeout": 1,
    "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
    "health_check_interval": 10,
}


def init_redis(app: Flask) -> None:
    """One client per process; a blocking pool, so a burst of thousands of socket connects waits for
    a connection (up to 2 s, then 503 or a refused connect) instead of failing past redis-py's
    default cap of 100."""
    pool = redis.BlockingConnectionPool.from_url(
        app.config["REDIS_URL"], decode_responses=True, max_connections=200, timeout=2, **REDIS_CLIENT_OPTIONS
    )
    app.extensions["redis"] = redis.Redis(connection_pool=pool)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]


def celery_init_app(app: Flask) -> Celery:
    """A Celery app whose tasks run inside this Flask app's context (Flask's examples/celery)."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.broker_url = app.config["REDIS_URL"]
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
