"""The API-key routes a blueprint offers its callers: create (the key shown once), list, revoke.

Users get read keys under /api/user/keys; admins get service keys (post signals only) under
/api/admin/keys. Keys are managed with a session token only: a key cannot make or revoke keys.
"""

from flask import Blueprint, jsonify

from journal import responses
from journal.api_keys import KeyLimitReached, create_key, list_keys, revoke_key
from journal.errors import APIError
from journal.identity import current_user_id, role_required
from journal.openapi import operation
from journal.schemas import KeyCreate


def add_key_routes(bp: Blueprint, scope: str, role: str | None = None) -> None:
    auth = role or "user"

    @bp.post("/keys", endpoint="create_key")
    @role_required(role)
    @operation(responses.NewKey, status=201, auth=auth, body=KeyCreate, errors=(409,))
    def create(body: dict):
        """Create an API key; the key is in this answer only (at most 10 active keys)."""
        try:
            return jsonify(create_key(current_user_id(), body["name"], scope)), 201
        except KeyLimitReached:
            raise APIError(
                409, "Too many active keys; revoke one first.", {"name": ["key limit reached"]}
            ) from None

    @bp.get("/keys", endpoint="list_keys")
    @role_required(role)
    @operation(responses.KeyList, auth=auth)
    def listed():
        """The caller's keys, newest first, revoked ones included (never the key itself)."""
        return jsonify({"keys": list_keys(current_user_id(), scope)})

    @bp.delete("/keys/<int:key_id>", endpoint="revoke_key")
    @role_required(role)
    @operation(responses.Revoked, auth=auth)
    def revoke(key_id: int):
        """Revoke one of the caller's keys: it stops working at once (the row is kept)."""
        if not revoke_key(current_user_id(), key_id, scope):
            raise APIError(404, "No such key.")
        return jsonify({"revoked": True})
