"""The JSON error shape {"error", "fields"} for every API failure, and the request-body helpers."""

import logging

from flask import Flask, g, jsonify, request
from marshmallow import Schema, ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import BadRequest, HTTPException

OUTAGE_SECONDS = 2  # Retry-After for a Redis or database outage
log = logging.getLogger(__name__)


class APIError(Exception):
    """An HTTP answer for a client: status, message, the fields at fault; 503s say when to retry."""

    def __init__(
        self, status: int, message: str, fields: dict | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.fields, self.retry_after = status, message, fields or {}, retry_after


def error_response(status: int, message: str, fields: dict | None = None, retry_after: int | None = None):
    response = jsonify({"error": message, "fields": fields or {}})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def json_body() -> dict:
    """The request's JSON object, or a 400 naming what is wrong with it."""
    if not request.is_json:
        raise APIError(400, "Expected a JSON body (Content-Type: application/json).")
    try:
        data = request.get_json()
    except BadRequest as err:  # not JSON, or nested too deep (journal.jsonio)
        raise APIError(400, err.description or "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise APIError(400, "The body must be a JSON object.")
    return data


def flat_messages(messages: object, prefix: str = "_schema") -> dict[str, list[str]]:
    """marshmallow's messages as {field: [text]}; nested fields are named with dots ("payload.key")."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for name, inner in messages.items():
            path = str(name) if prefix == "_schema" else f"{prefix}.{name}"
            for key, texts in flat_messages(inner, path).items():
                out.setdefault(key, []).extend(texts)
        return out
    if isinstance(messages, list) and all(isinstance(text, str) for text in messages):
        return {prefix: messages}
    if isinstance(messages, list):
        return flat_messages(dict(enumerate(messages)), prefix)
    return {prefix: [str(messages)]}


def load(schema: Schema, data: object) -> dict:
    try:
        return schema.load(data)
    except ValidationError as err:
        raise APIError(422, "Validation failed.", flat_messages(err.messages)) from None


def init_app(app: Flask) -> None:
    @app.errorhandler(APIError)
    def api_error(err: APIError):
        return error_response(err.status, err.message, err.fields, err.retry_after)

    @app.errorhandler(RedisError)
    def redis_outage(err: RedisError):
        log.warning("Redis unavailable: %s", err)
        return error_response(503, "Briefly unavailable (Redis); try again.", retry_after=OUTAGE_SECONDS)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_outage(err: Exception):
        """A lost or refused connection, a timed-out statement or lock: 503; the client retries (a
        write with the same Idempotency-Key, so one that did commit is not stored twice)."""
        log.warning("database unavailable: %s", err)
        return error_response(503, "Briefly unavailable (database); try again.", retry_after=OUTAGE_SECONDS)

    @app.errorhandler(DBAPIError)
    def lost_connection(err: DBAPIError):
        """A pooled connection the server closed (it restarted): psycopg2 raises a bare DatabaseError,
        SQLAlchemy discards the pool; any other database error is a bug and stays a 500."""
        if not err.connection_invalidated:
            raise err
        return database_outage(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith("/api/") or request.is_json or err.code >= 500:
            message = err.description or err.name
            if err.code == 429:
                message = f"Too many requests: at most {message}."
                g.rate_limited = True  # Flask-Limiter adds Retry-After and X-RateLimit-* (extensions.py)
            response = error_response(err.code, message)
            for name, value in err.get_headers():  # e.g. Allow on 405, Retry-After on 429
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        return err
