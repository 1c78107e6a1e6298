"""/api/auth: log in, refresh (rotating), log out (ending the session and every token of it)."""

import hashlib

from flask import Blueprint, current_app, jsonify, request
from flask_jwt_extended import get_jwt, jwt_required
from flask_limiter.util import get_remote_address

from journal import responses
from journal.errors import APIError
from journal.extensions import limiter
from journal.identity import authenticate, current_account
from journal.openapi import operation
from journal.passwords import PasswordCheckBusy
from journal.schemas import Login
from journal.tokens import TokenRejected, end_session, rotate, start_session

bp = Blueprint("account", __name__, url_prefix="/api/auth")


def login_key() -> str:
    """Rate-limit logins per client address and account."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    # hashed: the key goes to Redis, and the e-mail is not validated yet (it may hold lone surrogates)
    account = hashlib.sha256(str(email).lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"{get_remote_address()}|{account}"


@bp.post("/login")
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_ADDRESS"], key_func=get_remote_address)
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], key_func=login_key)
@operation(responses.Tokens, auth=None, body=Login, errors=(401, 403, 429, 503))
def login(body: dict):
    """Log in: a new session, with an access token (15 minutes) and a refresh token (30 days).

    Limited per client address (before any password is checked) and per address and e-mail;
    503 with Retry-After when too many password checks are running.
    """
    try:
        account = authenticate(body["email"], body["password"])
    except PasswordCheckBusy:
        raise APIError(503, "Too many log-ins at once; try again in a moment.", retry_after=1) from None
    if account is None:
        raise APIError(401, "Wrong e-mail or password.", {"password": ["wrong e-mail or password"]})
    if account.disabled:
        raise APIError(403, "This account is disabled.", {"email": ["disabled"]})
    return jsonify(start_session(account).as_dict(account))


@bp.post("/refresh")
@jwt_required(refresh=True)
@operation(responses.Tokens, auth="refresh")
def refresh():
    """A new token pair; each refresh token works once, and presenting a used one ends the session."""
    account = current_account()
    try:
        return jsonify(rotate(get_jwt(), account).as_dict(account))
    except TokenRejected as err:
        raise APIError(401, str(err), {"Authorization": ["revoked"]}) from None


@bp.post("/logout")
@jwt_required()
@operation(responses.Revoked)
def logout():
    """End the session: every token of it stops working, and its open sockets close."""
    end_session(get_jwt()["fid"])
    return jsonify({"revoked": True})
