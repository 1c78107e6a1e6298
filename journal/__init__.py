"""The signal hub's Flask app factory: config -> extensions -> blueprints -> sockets -> celery."""

from functools import partial

from flask import Flask

from journal.config import (
    AUTOCOMMIT,
    WEB_SECRETS,
    check_production,
    database_urls,
    holds_web_secrets,
    settings,
)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings())
    if config:
        app.config.update(config)
    check_production(app.config)
    if not holds_web_secrets(app.config):  # signing tokens and the account cache is the web's alone
        app.config.update(dict.fromkeys(WEB_SECRETS))
    if not app.config["REDIS_URL"]:
        raise RuntimeError(
            "REDIS_URL is not set: start the stack with `journal run` (embedded PostgreSQL and Redis) "
            "or set REDIS_URL and the database URLs."
        )
    urls = database_urls(app.config)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", urls.pop(app.config["DB_ROLE"]))
    # Flask-SQLAlchemy applies SQLALCHEMY_ENGINE_OPTIONS to the default engine only; binds need them too.
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    # A pre-ping is a round trip per checkout: web processes go without (the first request on a
    # connection a restarted server closed answers 503 and the stale pool is discarded); the others,
    # whose checkouts are few, check.
    options.setdefault("pool_pre_ping", app.config.get("PROCESS_KIND") != "web")
    binds = {role: {"url": url, **options} for role, url in urls.items()}
    # The default role's connections in autocommit, for writes that are one statement (atomic on its
    # own): no BEGIN and COMMIT round trips, and no toggling of a pooled connection's mode.
    binds[AUTOCOMMIT] = {
        "url": app.config["SQLALCHEMY_DATABASE_URI"],
        **options,
        "isolation_level": "AUTOCOMMIT",
    }
    app.config.setdefault("SQLALCHEMY_BINDS", binds)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])

    from journal import errors, fastjson, identity, openapi, socket_sessions, sockets
    from journal.extensions import celery_init_app, db, init_redis, limiter, socketio
    from journal.fanout import FanoutRedisManager
    from journal.jsonio import DecimalJSONProvider
    from journal.stream import redeliver
    from journal.stream.pubsub import keep_canary

    app.json = DecimalJSONProvider(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    db.init_app(app)
    init_redis(app)
    identity.init_app(app)
    limiter.init_app(app)
    errors.init_app(app)

    from journal import account, admin, health, hub, pages, prices, user

    for module in (account, admin, health, hub, pages, prices, user):
        app.register_blueprint(module.bp)
    openapi.init_app(app)

    socketio.init_app(
        app,
        client_manager=FanoutRedisManager(
            app.config["REDIS_URL"], socket_sessions.SLOW_SOCKET, socket_sessions.SLOW_FAREWELL
        ),
        cors_allowed_origins=app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] or None,
        json=fastjson,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE"),
    )
    sockets.init_app(socketio)
    if app.config.get("PROCESS_KIND") == "web":
        socketio.server.manager.subscribed = partial(redeliver.on_subscribed, socketio, app)
        socketio.start_background_task(keep_canary, socketio.server)
    celery_init_app(app)
    return app
