"""Identity: password checks, JWTs with role and tier claims, the Redis blocklist, role guards."""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps

from flask import Flask
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    decode_token,
    get_jwt,
    verify_jwt_in_request,
)
from werkzeug.security import check_password_hash, generate_password_hash

from journal.errors import APIError, error_response
from journal.extensions import db, get_redis, jwt
from journal.models import User

BLOCKLIST_PREFIX = "jwt:revoked:"
# Checking a password against this keeps a missing account as slow as a wrong password.
DUMMY_HASH = generate_password_hash("not-a-password")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(db.select(User).where(db.func.lower(User.email) == email.lower()))
    if user is None:
        check_password_hash(DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def issue_tokens(user: User) -> dict:
    claims = {"role": user.role, "tier": user.risk_tier}
    return {
        "access_token": create_access_token(str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(str(user.id), additional_claims=claims),
        "user": user.to_dict(),
    }


def revoke(claims: dict) -> None:
    """Put a token's jti on the blocklist until the token would have expired anyway."""
    ttl = max(1, int(claims["exp"] - datetime.now(UTC).timestamp()))
    get_redis().set(BLOCKLIST_PREFIX + claims["jti"], "1", ex=ttl)


def is_revoked(claims: dict) -> bool:
    return get_redis().exists(BLOCKLIST_PREFIX + claims["jti"]) == 1


def claims_of(token: str, refresh: bool = False) -> dict:
    """Decoded, unexpired, unrevoked claims of a raw token, or APIError 401."""
    try:
        claims = decode_token(token)
    except Exception:  # PyJWT and flask-jwt-extended raise several types for a bad token
        raise APIError(401, "Invalid or expired token.") from None
    if claims.get("type") != ("refresh" if refresh else "access") or is_revoked(claims):
        raise APIError(401, "Invalid or revoked token.")
    return claims


def role_required(role: str | None = None) -> Callable:
    """Require a valid access token; with `role`, require that role too (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            verify_jwt_in_request()
            if role is not None and get_jwt().get("role") != role:
                raise APIError(403, f"This needs the {role} role.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_user_id() -> int:
    return int(get_jwt()["sub"])


def init_app(app: Flask) -> None:
    jwt.init_app(app)

    @jwt.token_in_blocklist_loader
    def blocked(_header: dict, payload: dict) -> bool:
        return is_revoked(payload)

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
