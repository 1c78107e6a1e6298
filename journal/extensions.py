"""Unbound extensions (db, jwt, socketio, limiter), the shared Redis client and the Celery factory."""

import redis
from celery import Celery, Task
from flask import Flask, current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

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
