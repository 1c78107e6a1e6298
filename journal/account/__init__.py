"""/api/auth: log in, refresh, log out (revoking both tokens)."""

from flask import Blueprint, jsonify, request
from flask_jwt_extended import get_jwt, jwt_required

from journal.auth import authenticate, claims_of, issue_tokens, revoke
from journal.errors import APIError, json_body, load
from journal.extensions import db, limiter
from journal.models import User
from journal.schemas import Login, Refresh

bp = Blueprint("account", __name__, url_prefix="/api/auth")


def login_key() -> str:
    """Rate-limit logins per client address and account."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"{request.remote_addr}|{str(email).lower()}"


@bp.post("/login")
@limiter.limit(lambda: limiter_config("RATELIMIT_LOGIN"), key_func=login_key)
def login():
    data = load(Login(), json_body())
    user = authenticate(data["email"], data["password"])
    if user is None:
        raise APIError(401, "Wrong e-mail or password.", {"password": ["wrong e-mail or password"]})
    return jsonify(issue_tokens(user))


@bp.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    claims = get_jwt()
    user = db.session.get(User, int(claims["sub"]))
    if user is None:
        raise APIError(401, "Unknown user.")
    revoke(claims)  # refresh tokens are single use
    return jsonify(issue_tokens(user))


@bp.post("/logout")
@jwt_required()
def logout():
    data = load(Refresh(), request.get_json(silent=True) or {})
    revoke(get_jwt())
    if data["refresh_token"]:
        revoke(claims_of(data["refresh_token"], refresh=True))
    return jsonify({"revoked": True})


def limiter_config(name: str) -> str:
    from flask import current_app

    return current_app.config[name]
