"""Settings read from the environment, the per-process database role and the Celery beat schedule."""

import os
from datetime import timedelta

from sqlalchemy.engine import make_url

from journal.stream import events

PLACEHOLDER = "dev-only-placeholder-secret-change-me"
ROLES = {
    "app": ("trading_app_user", "DB_APP_PASSWORD"),
    "worker": ("trading_worker_user", "DB_WORKER_PASSWORD"),
    "admin": ("trading_admin_user", "DB_ADMIN_PASSWORD"),
}


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


def role_password(role: str) -> str:
    return env(ROLES[role][1], PLACEHOLDER)


def role_url(owner_url: str, role: str, password: str | None = None) -> str:
    """The owner's URL with the user and password (DB_<ROLE>_PASSWORD by default) of one role."""
    user, _ = ROLES[role]
    url = make_url(owner_url).set(
        drivername="postgresql+psycopg2", username=user, password=password or role_password(role)
    )
    return url.render_as_string(hide_password=False)


# Worker options: gossip, mingle and the event heartbeat are broadcasts over the broker that this
# hub does not use, and on a Redis restart their channels' clean-up fails inside kombu (the
# consumer logged AttributeError: 'NoneType' object has no attribute 'hostname').
CELERY_WORKER_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")

# The database roles each kind of process connects as; the first is its default connection.
PROCESS_ROLES = {
    "web": ("app", "admin"),
    "relay": ("worker",),
    "worker": ("worker",),
    "beat": ("worker",),
    "admin": ("admin",),
}


AUTOCOMMIT = "autocommit"  # the bind of the default role's connections in autocommit mode


def role_url_var(role: str) -> str:
    return f"DATABASE_URL_{role.upper()}"


def database_urls(config: dict) -> dict[str, str]:
    """role -> URL for the roles this process uses (DB_ROLE first, then the admin bind of the web role).

    Each comes from DATABASE_URL_<ROLE>; in development a missing one is derived from the owner's
    DATABASE_URL (tests and one-off commands), in production it must be given.
    """
    wanted = PROCESS_ROLES["web"] if config["DB_ROLE"] == "app" else (config["DB_ROLE"],)
    urls = {}
    for role in wanted:
        url = config.get(role_url_var(role))
        if not url and config.get("DATABASE_URL") and is_development(config):
            url = role_url(config["DATABASE_URL"], role)
        if not url:
            raise RuntimeError(f"{role_url_var(role)} is not set (the {ROLES[role][0]} connection)")
        urls[role] = make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return urls


DEFAULT_SYMBOLS = (
    "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,ADAUSDT,DOGEUSDT,AVAXUSDT,DOTUSDT,LINKUSDT,"
    "MATICUSDT,LTCUSDT,TRXUSDT,ATOMUSDT,UNIUSDT,XLMUSDT,ETCUSDT,FILUSDT,APTUSDT,NEARUSDT,"
    "ARBUSDT,OPUSDT,AAVEUSDT,INJUSDT,SUIUSDT,EURUSD,GBPUSD,USDJPY,AUDUSD,USDCAD,USDCHF,NZDUSD,"
    "EURGBP,EURJPY,GBPJPY,XAUUSD,XAGUSD,WTIUSD,SPX500,NAS100,US30,GER40,UK100,JPN225,AAPL,MSFT,"
    "NVDA,AMZN,TSLA,META"
)


def settings() -> dict:
    """Every setting, read from the environment now (defaults are for development)."""
    return {
        "ENV": env("JOURNAL_ENV", "development"),
        "SECRET_KEY": env("SECRET_KEY", PLACEHOLDER),
        "JWT_SECRET_KEY": env("JWT_SECRET_KEY", PLACEHOLDER),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=env_int("JWT_ACCESS_TOKEN_SECONDS", 900)),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=env_int("JWT_REFRESH_TOKEN_SECONDS", 2592000)),
        # A session (a login) ends after this, however often its refresh token was rotated.
        "JWT_SESSION_SECONDS": env_int("JWT_SESSION_SECONDS", 2592000),
        # The refresh token just rotated, presented again within this many seconds (the loser of two
        # concurrent refreshes), is answered 401 without ending the session; later it ends the session.
        "JWT_REFRESH_GRACE_SECONDS": env_int("JWT_REFRESH_GRACE_SECONDS", 5),
        # werkzeug's scrypt; the README records its measured cost. Checks run off the event loop,
        # at most PASSWORD_HASH_CONCURRENCY at a time, waiting at most PASSWORD_HASH_WAIT_SECONDS.
        "PASSWORD_HASH_METHOD": env("PASSWORD_HASH_METHOD", "scrypt:32768:8:1"),
        "PASSWORD_HASH_CONCURRENCY": env_int("PASSWORD_HASH_CONCURRENCY", 2),
        "PASSWORD_HASH_WAIT_SECONDS": float(env("PASSWORD_HASH_WAIT_SECONDS", "5")),
        "JWT_TOKEN_LOCATION": ["headers"],
        "DATABASE_URL": env("DATABASE_URL"),
        **{role_url_var(role): env(role_url_var(role)) for role in ROLES},
        "REDIS_URL": env("REDIS_URL"),
        "DB_ROLE": env("JOURNAL_DB_ROLE", "app"),
        "SOCKETIO_CORS_ALLOWED_ORIGINS": env_list("SOCKETIO_CORS_ALLOWED_ORIGINS"),
        "SYMBOLS": tuple(env_list("JOURNAL_SYMBOLS", DEFAULT_SYMBOLS)),
        # Explicit limits (documented in the README).
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 64 * 1024),
        "MAX_SIGNAL_PAYLOAD_BYTES": env_int("MAX_SIGNAL_PAYLOAD_BYTES", 16 * 1024),
        # The body of a batch of signals (POST .../signals/batch, up to 1,000 signals).
        "MAX_BATCH_BODY_BYTES": env_int("MAX_BATCH_BODY_BYTES", 2 * 1024 * 1024),
        "PAGE_SIZE_DEFAULT": 50,
        "PAGE_SIZE_MAX": 200,
        "REPLAY_BATCH": 500,
        # An event waiting longer than this for the relay makes every web process unready (/readyz).
        "READY_RELAY_LAG_SECONDS": env_int("READY_RELAY_LAG_SECONDS", 15),
        # Replays (a connect with a cursor it is behind, or signals:sync) per user per minute, over
        # all their sockets and web processes; and the receipts waiting in Redis before acks are dropped.
        "SOCKET_REPLAYS_PER_USER_PER_MINUTE": env_int("SOCKET_REPLAYS_PER_USER_PER_MINUTE", 30),
        "RECEIPTS_QUEUE_MAX": env_int("RECEIPTS_QUEUE_MAX", 200_000),
        "RATELIMIT_LOGIN_ADDRESS": env("RATELIMIT_LOGIN_ADDRESS", "20 per minute"),
        "RATELIMIT_LOGIN": env("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_WRITE": env("RATELIMIT_WRITE", "600 per minute"),
        "RATELIMIT_ENABLED": env("RATELIMIT_ENABLED", "1") == "1",
        "RATELIMIT_HEADERS_ENABLED": True,
        # While Redis is down the limits are not counted (fail open) rather than failing requests;
        # whatever else needs Redis answers 503 with Retry-After (journal/errors.py).
        "RATELIMIT_SWALLOW_ERRORS": True,
        # API-key requests a user may make per day, by plan (None: unlimited); see journal/quotas.py.
        "PLAN_DAILY_REQUESTS": {
            "free": env_int("PLAN_FREE_DAILY_REQUESTS", 100),
            "pro": env_int("PLAN_PRO_DAILY_REQUESTS", 10_000),
            "elite": None,
        },
        "RATELIMIT_STORAGE_OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For/-Proto (0: none).
        "TRUSTED_PROXIES": env_int("TRUSTED_PROXIES", 0),
        # Market data and the 24/7 engine.
        "MARKET_PROVIDER": env("MARKET_PROVIDER", "simulated"),
        "MARKET_SEED": env_int("MARKET_SEED", 7),
        "MARKET_CANDLE_SCALE": float(env("MARKET_CANDLE_SCALE", "10")),
        "MARKET_CSV_DIR": env("MARKET_CSV_DIR"),
        "MARKET_EXCHANGE_URL": env("MARKET_EXCHANGE_URL", "https://api.binance.com"),
        "MARKET_EXCHANGE_WS": env("MARKET_EXCHANGE_WS", "wss://stream.binance.com:9443/ws"),
        "GENERATION_TIMEFRAME": env("GENERATION_TIMEFRAME", "5m"),
        "GENERATION_MIN_CONFIDENCE": env_int("GENERATION_MIN_CONFIDENCE", 60),
        "GENERATION_COOLDOWN_SECONDS": env_int("GENERATION_COOLDOWN_SECONDS", 600),
        # pool_pre_ping is set per kind of process (journal/__init__.py). Connections to a server over
        # TCP give up within seconds when it vanishes (keepalives).
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": 10,
            "max_overflow": 20,
            "pool_recycle": 3600,
            "connect_args": {
                "connect_timeout": 5,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
                "tcp_user_timeout": 15000,
            },
        },
        "CELERY": celery_settings(),
    }


def celery_settings() -> dict:
    """Celery's settings; the beat schedule as data (RedBeat keeps it in Redis under a lock)."""
    every = {"options": {"expires": 10}}
    return {
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": 60,
        "task_soft_time_limit": 50,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": 300},
        "beat_scheduler": "journal.beat:ResilientRedBeatScheduler",
        "redbeat_redis_url": env("REDIS_URL"),
        "redbeat_lock_timeout": 10,
        "beat_max_loop_interval": 1,
        "beat_schedule": {
            "flush-receipts": {"task": events.FLUSH_RECEIPTS, "schedule": 1.0, **every},
            "push-stats": {"task": events.PUSH_STATS, "schedule": 1.0, "options": {"expires": 2}},
            "generate-signals": {
                "task": events.GENERATE_SIGNALS,
                "schedule": float(env("GENERATION_SECONDS", "30")),
                **every,
            },
            # monthly partitions three months ahead (verify warns below two): a day's slack is plenty
            "create-partitions": {"task": events.CREATE_PARTITIONS, "schedule": 6 * 3600.0, **every},
            "check-outcomes": {
                "task": events.CHECK_OUTCOMES,
                "schedule": float(env("OUTCOME_SECONDS", "5")),
                **every,
            },
        },
    }


MIN_SECRET_BYTES = 32
# Signing keys only web processes hold: tokens are issued and checked there, and the account cache is
# signed with a key derived from SECRET_KEY (journal/account_cache.py). A worker, beat or relay
# process gets neither, so taking one over forges no token and no cached account.
WEB_SECRETS = ("SECRET_KEY", "JWT_SECRET_KEY")


def is_development(config: dict) -> bool:
    """Only an explicit JOURNAL_ENV=development (the default) relaxes the production checks."""
    return config.get("ENV", "development") == "development"


def holds_web_secrets(config: dict) -> bool:
    """Whether this process signs and checks tokens: a web process, or an app made in-process
    without a kind (tests, one-off commands). Workers, beat and the relay do not."""
    return config.get("PROCESS_KIND") in (None, "web")


def check_production(config: dict) -> None:
    """Outside development, refuse to start with a weak or placeholder secret, or with more
    credentials than the process needs (a web or worker process never sees the owner's DATABASE_URL)."""
    if is_development(config):
        return
    secrets = WEB_SECRETS if holds_web_secrets(config) else ()
    bad = [
        f"{name} (at least {MIN_SECRET_BYTES} bytes, not the placeholder)"
        for name in secrets
        if not config.get(name)
        or config[name] == PLACEHOLDER
        or len(config[name].encode()) < MIN_SECRET_BYTES
    ]
    roles = PROCESS_ROLES["web"] if config.get("DB_ROLE", "app") == "app" else (config["DB_ROLE"],)
    for role in roles:
        url = config.get(role_url_var(role))
        if not url or make_url(url).password in (None, "", PLACEHOLDER):
            bad.append(f"{role_url_var(role)} (with the role's own password)")
    if config.get("PROCESS_KIND") in ("web", "relay", "worker") and config.get("DATABASE_URL"):
        bad.append("DATABASE_URL must not be set for a web or worker process (the owner's credentials)")
    if not config.get("REDIS_URL"):
        bad.append("REDIS_URL")
    if bad:
        raise RuntimeError(
            f"refusing to start ({config.get('ENV')}) with missing or placeholder settings: " + "; ".join(bad)
        )
