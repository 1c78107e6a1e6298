"""Settings read from the environment, the per-process database role and the Celery beat schedule."""

import os
from datetime import timedelta

from sqlalchemy.engine import make_url

PLACEHOLDER = "dev-only-placeholder-secret-change-me"
TIERS = ("low", "medium", "high")
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


def role_url(owner_url: str, role: str) -> str:
    """The owner's URL with the user and password of one least-privilege role."""
    user, _ = ROLES[role]
    url = make_url(owner_url).set(
        drivername="postgresql+psycopg2", username=user, password=role_password(role)
    )
    return url.render_as_string(hide_password=False)


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
        "JWT_TOKEN_LOCATION": ["headers"],
        "DATABASE_URL": env("DATABASE_URL"),
        "REDIS_URL": env("REDIS_URL"),
        "DB_ROLE": env("JOURNAL_DB_ROLE", "app"),
        "SOCKETIO_CORS_ALLOWED_ORIGINS": env_list("SOCKETIO_CORS_ALLOWED_ORIGINS"),
        "SYMBOLS": tuple(env_list("JOURNAL_SYMBOLS", DEFAULT_SYMBOLS)),
        # Explicit limits (documented in the README).
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 64 * 1024),
        "MAX_SIGNAL_PAYLOAD_BYTES": env_int("MAX_SIGNAL_PAYLOAD_BYTES", 16 * 1024),
        "PAGE_SIZE_DEFAULT": 50,
        "PAGE_SIZE_MAX": 200,
        "REPLAY_BATCH": 500,
        "RATELIMIT_LOGIN": env("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_WRITE": env("RATELIMIT_WRITE", "600 per minute"),
        "RATELIMIT_ENABLED": env("RATELIMIT_ENABLED", "1") == "1",
        "RATELIMIT_HEADERS_ENABLED": True,
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
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20},
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
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "redbeat_redis_url": env("REDIS_URL"),
        "redbeat_lock_timeout": 10,
        "beat_max_loop_interval": 1,
        "beat_schedule": {
            "relay-sweep": {"task": "journal.relay_outbox", "schedule": 2.0, **every},
            "flush-receipts": {"task": "journal.flush_receipts", "schedule": 1.0, **every},
            "push-stats": {"task": "journal.push_stats", "schedule": 1.0, "options": {"expires": 2}},
            "generate-signals": {
                "task": "journal.generate_signals",
                "schedule": float(env("GENERATION_SECONDS", "30")),
                **every,
            },
            "check-outcomes": {
                "task": "journal.check_outcomes",
                "schedule": float(env("OUTCOME_SECONDS", "5")),
                **every,
            },
        },
    }


def check_production(config: dict) -> None:
    """Refuse to start in production with a missing or placeholder secret."""
    if config.get("ENV") != "production":
        return
    bad = [
        name
        for name in ("SECRET_KEY", "JWT_SECRET_KEY")
        if not config.get(name) or config[name] == PLACEHOLDER or len(config[name]) < 16
    ]
    bad += [var for _, var in ROLES.values() if env(var, PLACEHOLDER) == PLACEHOLDER]
    if not config.get("DATABASE_URL"):
        bad.append("DATABASE_URL")
    if not config.get("REDIS_URL"):
        bad.append("REDIS_URL")
    if bad:
        raise RuntimeError(
            "refusing to start in production with missing or placeholder settings: " + ", ".join(bad)
        )
