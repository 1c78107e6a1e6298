"""/api/admin/users: list, create and change accounts (tier, plan, role, disabled) as the admin role."""

from flask import jsonify

from journal import responses
from journal.accounts import AccountError, change_user, create_user
from journal.admin import bp
from journal.errors import APIError
from journal.extensions import db
from journal.identity import current_user_id, role_required
from journal.models import User
from journal.openapi import operation
from journal.schemas import NewUser, UserChange, UserFilter


def like_pattern(text: str) -> str:
    """`text` anywhere in a value, with LIKE's wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@bp.get("/users")
@role_required("admin")
@operation(responses.UserPage, auth="admin", query=UserFilter)
def list_users(query: dict):
    """Accounts, newest first, in keyset pages; filters: part of the e-mail, tier, plan, role, disabled."""
    found = db.select(User).order_by(User.id.desc()).limit(query["limit"])
    if query.get("cursor"):
        found = found.where(User.id < query["cursor"])
    if "email" in query:
        found = found.where(User.email.ilike(like_pattern(query["email"]), escape="\\"))
    for name in ("risk_tier", "plan", "role", "disabled"):
        if name in query:
            found = found.where(getattr(User, name) == query[name])
    rows = db.session.scalars(found).all()
    next_cursor = rows[-1].id if len(rows) == query["limit"] else None
    return jsonify({"users": [row.to_dict() for row in rows], "next_cursor": next_cursor})


@bp.post("/users")
@role_required("admin")
@operation(responses.User, status=201, auth="admin", body=NewUser, errors=(409,))
def add_user(body: dict):
    """Create an account (audited).

    409 when an account has this e-mail in any letter case: the unique index on lower(email) decides,
    also between two concurrent creates.
    """
    try:
        user = create_user(**body, actor_id=current_user_id())
    except AccountError as err:
        raise APIError(err.status, err.message, err.fields) from None
    return jsonify(user.to_dict()), 201


@bp.patch("/users/<int:user_id>")
@role_required("admin")
@operation(responses.User, auth="admin", body=UserChange)
def change(user_id: int, body: dict):
    """Change an account's tier, plan, role or disabled flag, audited; its open sockets follow at once.

    Disabling or a role change ends every token issued before; an admin cannot demote or disable
    themselves (422).
    """
    try:
        account = change_user(current_user_id(), user_id, body)
    except AccountError as err:
        raise APIError(err.status, err.message, err.fields) from None
    return jsonify(account.to_dict())
