"""The signal hub's Flask app factory: config -> extensions -> blueprints -> sockets -> celery."""

from flask import Flask

from journal.config import check_production, role_url, settings


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings())
    if config:
        app.config.update(config)
    check_production(app.config)
    if not app.config["DATABASE_URL"] or not app.config["REDIS_URL"]:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL are not set: start the stack with `journal run` "
            "(embedded PostgreSQL and Redis) or set both."
        )
    owner_url = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", role_url(owner_url, app.config["DB_ROLE"]))
    app.config.setdefault("SQLALCHEMY_BINDS", {"admin": role_url(owner_url, "admin")})
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])

    from journal import auth, errors, sockets
    from journal.extensions import celery_init_app, db, init_redis, limiter, socketio
    from journal.jsonio import DecimalJSONProvider

    app.json = DecimalJSONProvider(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    db.init_app(app)
    init_redis(app)
    auth.init_app(app)
    limiter.init_app(app)
    errors.init_app(app)

    from journal import account, admin, health, hub, pages, user

    for module in (account, admin, health, hub, pages, user):
        app.register_blueprint(module.bp)

    socketio.init_app(
        app,
        message_queue=app.config["REDIS_URL"],
        cors_allowed_origins=app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] or None,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE"),
    )
    sockets.init_app(socketio)
    celery_init_app(app)
    return app
