"""Who is calling: password log-in, the JWT hooks, API keys, role guards, the live account, socket tokens.

Every authenticated request and socket checks its token against its session and its account
(journal/tokens.py): one Redis round trip, the account record cached there. The role a route
requires is the account's role now, not the one written into the token. A route may also accept
an API key (`Authorization: ApiKey <key>`) of one scope: user keys only read, admin service keys
only post signals; every other route refuses keys with 403.
"""

import logging
from collections.abc import Callable
from functools import wraps

from flask import Flask, Response, g, request
from flask_jwt_extended import decode_token, get_jwt, verify_jwt_in_request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from journal.accounts import Account, cached_account, find_user, load_account
from journal.api_keys import KeyRecord, check_key, record_use
from journal.errors import APIError, error_response
from journal.extensions import jwt
from journal.passwords import check_password, dummy_hash
from journal.tokens import live_account
from journal.verified_tokens import verified

log = logging.getLogger(__name__)


def authenticate(email: str, password: str) -> Account | None:
    """The account for a correct e-mail and password, else None (a missing account costs the same)."""
    user = find_user(email)
    if user is None:
        check_password(dummy_hash(), password)
        return None
    return load_account(user.id) if check_password(user.password_hash, password) else None


API_KEY_SCHEME = "ApiKey "
BEARER_SCHEME = "Bearer "


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len(API_KEY_SCHEME) :].strip() if header.startswith(API_KEY_SCHEME) else None


def key_account() -> tuple[KeyRecord, Account]:
    """The request's API key and the live account it acts for (checked once per request), or 401."""
    this_request = request._get_current_object()
    checked = g.get("api_key")
    if checked is None or checked[0] is not this_request:  # g may outlive a request (tests)
        record = check_key(presented_key() or "")
        account = cached_account(record.user_id) if record else None
        if record is None or account is None or account.disabled:
            raise APIError(401, "Invalid or revoked API key.", {"Authorization": ["invalid api key"]})
        g.api_key, g.account = (this_request, record), account
    return g.api_key[1], g.account


def authenticate_bearer() -> None:
    """Check the request's access token and set g.account: a token this process verified before
    skips the signature check (journal/verified_tokens.py); its session and account are checked
    every time. Anything else takes flask-jwt-extended's full check and its answers (401, 422)."""
    header = request.headers.get("Authorization", "")
    token = header[len(BEARER_SCHEME) :] if header.startswith(BEARER_SCHEME) else None
    claims = verified.get(token) if token else None
    if claims is None:
        verify_jwt_in_request()
        verified.put(token, get_jwt())
        return
    account = live_account(claims)
    if account is None:
        raise APIError(401, "Token has been revoked.", {"Authorization": ["revoked"]})
    g.account = account


def role_required(role: str | None = None, key_scope: str | None = None) -> Callable:
    """Require a live access token, or an API key of `key_scope` where the route accepts keys;
    with `role`, require that the account has that role now (403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            if presented_key() is not None:
                if key_scope is None:
                    raise APIError(
                        403, "This route does not accept API keys.", {"Authorization": ["api key"]}
                    )
                record, _ = key_account()
                if record.scope != key_scope:
                    raise APIError(
                        403, f"This route needs a key of scope {key_scope}.", {"Authorization": ["scope"]}
                    )
            else:
                authenticate_bearer()
            if role is not None and current_account().role != role:
                raise APIError(403, f"This needs the {role} role.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_account() -> Account:
    """The caller's account, as checked with their token in this request."""
    return g.account


def current_user_id() -> int:
    return g.account.id


def socket_claims(token: str) -> tuple[dict, Account]:
    """Claims and live account of a raw access token (a socket's), or APIError 401. A token this
    process verified before (a reconnect) skips the signature check, as on HTTP."""
    claims = verified.get(token)
    if claims is None:
        try:
            claims = decode_token(token)
        except Exception:  # PyJWT and flask-jwt-extended raise several types for a bad token
            raise APIError(401, "Invalid or expired token.") from None
        verified.put(token, claims)
    account = live_account(claims) if claims.get("type") == "access" else None
    if account is None:
        raise APIError(401, "Invalid or revoked token.")
    return claims, account


def note_key_use(response: Response) -> Response:
    """Stamp the request's API key as used when its answer is below 400: a refused request (wrong
    scope, invalid input, over quota) writes nothing. A failed stamp does not fail the answer."""
    checked = g.get("api_key")
    if checked is None or checked[0] is not request._get_current_object() or response.status_code >= 400:
        return response
    try:
        record_use(checked[1].id)
    except (RedisError, SQLAlchemyError) as err:
        log.warning("last use of API key %s not recorded: %s", checked[1].id, err)
    return response


def init_app(app: Flask) -> None:
    jwt.init_app(app)
    app.after_request(note_key_use)

    @jwt.token_in_blocklist_loader
    def refused(_header: dict, payload: dict) -> bool:
        g.account = live_account(payload)
        return g.account is None

    @jwt.unauthorized_loader
    def missing(reason: str):
        return error_response(401, reason, {"Authorization": [reason]})

    @jwt.invalid_token_loader
    def invalid(reason: str):
        return error_response(401, f"Invalid token: {reason}", {"Authorization": [reason]})

    @jwt.expired_token_loader
    def expired(_header: dict, _payload: dict):
        return error_response(401, "Token has expired.", {"Authorization": ["expired"]})

    @jwt.revoked_token_loader
    def revoked(_header: dict, _payload: dict):
        return error_response(401, "Token has been revoked.", {"Authorization": ["revoked"]})

    @jwt.needs_fresh_token_loader
    def not_fresh(_header: dict, _payload: dict):
        return error_response(401, "Fresh token required.")

    @jwt.user_lookup_error_loader
    def lookup_error(_header: dict, _payload: dict):
        return error_response(401, "Unknown user.")
