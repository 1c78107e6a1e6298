"""The OpenAPI 3.1 contract: `operation` validates a route's input with its marshmallow schemas and records
them; /api/openapi.json is built from what the routes recorded, so the schemas are said only once."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from urllib.parse import parse_qsl

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, g, jsonify, request
from marshmallow import Schema, fields

from journal import responses
from journal.errors import json_body, load
from journal.jsonio import MAX_BODY_DEPTH
from journal.schemas import MAX_PRICE, Price, Symbol, text_checked

BEARER = "bearer"
API_KEY = "apiKey"
KEY_SCOPES = {
    "read": "Or a user's read key: `Authorization: ApiKey <key>` (metered by plan).",
    "signals:write": "Or an admin's service key: `Authorization: ApiKey <key>` (metered by plan).",
}
WHO = {
    "user": "A user's or an admin's access token.",
    "admin": "An admin's access token.",
    "refresh": "A refresh token (not an access token).",
}
ERRORS = {
    400: f"Malformed body: not JSON, not an object, or nested deeper than {MAX_BODY_DEPTH} levels.",
    401: "No token, or a bad, expired or revoked one (or wrong credentials at login).",
    403: "The token's role may not do this (or an API key on a route that takes none).",
    404: "No such signal, or not one the caller's tier receives (ids are canonical UUIDs).",
    409: "Conflicts with what is stored.",
    413: "Body larger than MAX_CONTENT_LENGTH.",
    422: "Validation failed: `fields` names each field at fault and what is wrong.",
    429: "Rate limit or the plan's daily allowance of API-key requests reached; see Retry-After.",
    503: "Briefly unavailable (Redis or the database); see Retry-After.",
}
PATH_ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")
CONVERTER_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer", "minimum": 0}}
NO_NUL = "^[^\\u0000]*$"
# Decimal text the Price field accepts: not zero, below 10^12, at most 10 decimal places.
PRICE_PATTERN = "^(?=.*[1-9])0*[0-9]{1,12}(\\.[0-9]{1,10})?$"


@cache
def schema_instance(schema: type[Schema]) -> Schema:
    """One instance per schema class: loading keeps no state in it, and making one deep-copies every
    declared field (a third of a small request's validation time)."""
    return schema()


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers, as recorded by `operation`."""

    response: type[Schema] | str  # or CSV
    status: tuple[int, ...]
    auth: str | None
    body: type[Schema] | None
    optional_body: bool
    query: type[Schema] | None
    headers: type[Schema] | None
    errors: tuple[int, ...]
    keys: str | None = None  # the API-key scope the route also accepts
    max_body: str | None = None  # the setting that bounds this route's body, if not MAX_CONTENT_LENGTH

    def error_statuses(self, path_arguments: bool) -> set[int]:
        statuses = set(self.errors)
        statuses |= {400, 413, 422} if self.body else set()
        statuses |= {422} if self.query or self.headers else set()
        # any guarded route: a bad token (401), an API key where none is taken or a wrong role (403),
        # Redis or the database unavailable while the token is checked (503)
        statuses |= {401, 403, 503} if self.auth else set()
        statuses |= {429} if self.keys else set()
        statuses |= {404} if path_arguments else set()
        return statuses

    def load_request(self) -> dict:
        """The request's body, query and headers as their schemas load them (APIError 400 or 422)."""
        loaded = {}
        if self.body:
            sent = {} if self.optional_body and not request.get_data(cache=True) else json_body()
            with text_checked(g.get("body_text_storable", False)):
                loaded["body"] = load(schema_instance(self.body), sent)
        if self.query:
            loaded["query"] = load(schema_instance(self.query), query_arguments())
        if self.headers:
            names = [field.data_key or name for name, field in schema_instance(self.headers).fields.items()]
            sent = {name: request.headers[name] for name in names if name in request.headers}
            loaded["headers"] = load(schema_instance(self.headers), sent)
        return loaded


def query_arguments() -> dict[str, str]:
    """The query string's arguments (the first of each name), with bytes that are not UTF-8, sent
    raw or percent-encoded, read as lone surrogates, which the schemas refuse (422 naming the field).
    werkzeug's request.args raises UnicodeDecodeError (a 500) on raw ones and keeps encoded ones
    as text (by design: https://github.com/pallets/werkzeug/pull/3022)."""
    text = request.query_string.decode("utf-8", "surrogateescape")
    arguments: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape"):
        arguments.setdefault(name, value)
    return arguments


def operation(
    response: type[Schema] | str,
    *,
    status: int | tuple[int, ...] = 200,
    auth: str | None = "user",
    body: type[Schema] | None = None,
    optional_body: bool = False,
    query: type[Schema] | None = None,
    headers: type[Schema] | None = None,
    errors: tuple[int, ...] = (),
    keys: str | None = None,
    max_body: str | None = None,
) -> Callable:
    """Validate the request's JSON body, query string and headers with these schemas (422 naming the
    field) and pass what they load as the keyword arguments `body`, `query` and `headers`; record the
    route for the spec. `auth` documents the token the route's guard asks for (None: public)."""
    recorded = Operation(
        response,
        (status,) if isinstance(status, int) else status,
        auth,
        body,
        optional_body,
        query,
        headers,
        errors,
        keys,
        max_body,
    )

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def validated(*args: object, **kwargs: object) -> object:
            if recorded.max_body:
                request.max_content_length = current_app.config[recorded.max_body]
            return view(*args, **kwargs, **recorded.load_request())

        validated.openapi = recorded
        return validated

    return decorator


def field_properties(self, field: fields.Field, ret: dict, **_: object) -> dict:
    """What JSON Schema cannot learn from the field's class (an apispec attribute function)."""
    if isinstance(field, Price):
        kinds = ["string", "number", "null"] if field.allow_none else ["string", "number"]
        return {
            "type": kinds,
            "pattern": PRICE_PATTERN,
            "exclusiveMinimum": 0,
            "exclusiveMaximum": int(MAX_PRICE),
            "description": "Positive, below 10^12, at most 10 decimal places; a number or decimal text.",
        }
    if isinstance(field, Symbol):
        return {"enum": list(current_app.config["SYMBOLS"])}
    if isinstance(field, fields.String) and not {"enum", "pattern", "format"} & set(ret):
        return {"pattern": NO_NUL}  # lone surrogates are refused too; JSON Schema cannot say so
    return {}


CSV = "text/csv"  # as an operation's response: the route streams CSV with a header row


def json_content(schema: type[Schema] | str) -> dict:
    if schema == CSV:
        return {CSV: {"schema": {"type": "string", "description": "CSV with a header row."}}}
    return {"application/json": {"schema": schema}}


def describe(view: Callable, recorded: Operation, has_path_arguments: bool) -> dict:
    lines = (view.__doc__ or view.__name__.replace("_", " ")).strip().splitlines()
    answers = {
        str(code): {"description": "OK", "content": json_content(recorded.response)}
        for code in recorded.status
    }
    for code in sorted(recorded.error_statuses(has_path_arguments)):
        answers[str(code)] = {"description": ERRORS[code], "content": json_content("Error")}
    described = {"summary": lines[0].rstrip("."), "responses": answers, "parameters": []}
    if len(lines) > 1:
        described["description"] = " ".join(line.strip() for line in lines[1:])
    if recorded.auth:
        described["security"] = [{BEARER: []}] + ([{API_KEY: []}] if recorded.keys else [])
        who = WHO[recorded.auth] + (" " + KEY_SCOPES[recorded.keys] if recorded.keys else "")
        described["description"] = (described.get("description", "") + " Token: " + who).strip()
    if recorded.query:
        described["parameters"].append({"in": "query", "schema": recorded.query})
    if recorded.headers:
        described["parameters"].append({"in": "header", "schema": recorded.headers})
    if recorded.body:
        described["requestBody"] = {
            "required": not recorded.optional_body,
            "content": json_content(recorded.body),
        }
    return described


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    """A Werkzeug rule as an OpenAPI path and its path parameters."""
    parameters = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": CONVERTER_SCHEMAS.get(kind, {"type": "string"}),
        }
        for kind, name in PATH_ARGUMENT.findall(rule)
    ]
    return PATH_ARGUMENT.sub(r"{\2}", rule), parameters


def build_spec(app: Flask) -> dict:
    """The OpenAPI document of every route that `operation` recorded."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Signal hub API",
        version="1",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={
            "description": 'Errors are always `{"error": text, "fields": {field: [text]}}`. '
            "Log in at POST /api/auth/login and send `Authorization: Bearer <access_token>`."
        },
    )
    plugin.converter.add_attribute_function(field_properties)
    spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.security_scheme(
        API_KEY,
        {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`ApiKey <key>`"},
    )
    spec.components.schema("Error", schema=responses.Error)
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        view = app.view_functions[rule.endpoint]
        recorded = getattr(view, "openapi", None)
        if recorded is None:
            continue
        path, path_arguments = openapi_path(rule.rule)
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        operations = {method.lower(): describe(view, recorded, bool(path_arguments)) for method in methods}
        for method, described in operations.items():
            name = rule.endpoint.replace(".", "_")
            described["operationId"] = name if len(methods) == 1 else f"{name}_{method}"
            described["tags"] = [rule.endpoint.split(".")[0]]
        spec.path(path=path, operations=operations, parameters=path_arguments)
    return spec.to_dict()


def serve_spec():
    """The OpenAPI document (built once per process, on first request)."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_spec(current_app)
    return jsonify(current_app.extensions["openapi"])


def init_app(app: Flask) -> None:
    app.add_url_rule("/api/openapi.json", "openapi", serve_spec)
