"""Password hashing off the event loop: a bounded number of checks at a time, in gevent's threadpool.

scrypt (werkzeug's default method) costs tens of milliseconds of CPU and releases the GIL, so in a
gevent web process it runs in the hub's threadpool while other greenlets keep serving sockets. At
most PASSWORD_HASH_CONCURRENCY run at once; a request that cannot get a slot within
PASSWORD_HASH_WAIT_SECONDS is refused (PasswordCheckBusy -> 503 with Retry-After) instead of
queueing without bound. Outside gevent (the CLI, in-process tests) hashing runs inline.
"""

from collections.abc import Callable

from flask import current_app
from gevent.lock import BoundedSemaphore
from gevent.monkey import is_module_patched
from werkzeug.security import check_password_hash, generate_password_hash

_slots: dict[int, BoundedSemaphore] = {}


class PasswordCheckBusy(Exception):
    """Too many password checks are running; the caller should retry shortly."""


def _off_loop(work: Callable, *args: str) -> object:
    if not is_module_patched("threading"):
        return work(*args)
    from gevent import get_hub

    config = current_app.config
    size = config["PASSWORD_HASH_CONCURRENCY"]
    slots = _slots.setdefault(size, BoundedSemaphore(size))
    if not slots.acquire(timeout=config["PASSWORD_HASH_WAIT_SECONDS"]):
        raise PasswordCheckBusy()
    try:
        return get_hub().threadpool.apply(work, args)
    finally:
        slots.release()


def hash_password(password: str) -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    return _off_loop(lambda pw: generate_password_hash(pw, method=method), password)


def check_password(stored_hash: str, password: str) -> bool:
    return bool(_off_loop(check_password_hash, stored_hash, password))


def dummy_hash() -> str:
    """A hash to check against when the account does not exist, so that costs the same time."""
    app = current_app
    if "dummy_password_hash" not in app.extensions:
        app.extensions["dummy_password_hash"] = hash_password("not-a-password")
    return app.extensions["dummy_password_hash"]
