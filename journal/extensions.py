"""Unbound extensions (db, jwt, socketio, limiter), the shared Redis client and the Celery factory."""

import redis
from celery import Celery, Task
from flask import Flask, current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
jwt = JWTManager()
socketio = SocketIO()
limiter = Limiter(key_func=get_remote_address)


def init_redis(app: Flask) -> None:
    app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)


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
