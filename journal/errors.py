"""The JSON error shape {"error", "fields"} for every API failure, and the request-body helpers."""

from flask import Flask, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException


class APIError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def error_response(status: int, message: str, fields: dict | None = None):
    return jsonify({"error": message, "fields": fields or {}}), status


def json_body() -> dict:
    """The request's JSON object, or a 400 naming what is wrong with it."""
    if not request.is_json:
        raise APIError(400, "Expected a JSON body (Content-Type: application/json).")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise APIError(400, "The body must be a JSON object.")
    return data


def load(schema: Schema, data: dict) -> dict:
    try:
        return schema.load(data)
    except ValidationError as err:
        fields = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        raise APIError(422, "Validation failed.", fields) from None


def init_app(app: Flask) -> None:
    @app.errorhandler(APIError)
    def api_error(err: APIError):
        return error_response(err.status, err.message, err.fields)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith("/api/") or request.is_json or err.code >= 500:
            return error_response(err.code, err.description or err.name)
        return err
