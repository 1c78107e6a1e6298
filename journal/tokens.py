"""Sessions and their tokens: issue at login, rotate refresh tokens atomically, end a session, check a token.

A login starts a session (a token family). Its id `fid` and its absolute end `sx` are claims of every
token issued in it, and Redis holds `session:<fid>` = "<current refresh jti>|<user id>" until `sx`,
followed after a refresh by "|<previous jti>|<end of its grace>". A token is live while its session
key exists and its account accepts it (not disabled, issued after the account's tokens_valid_after).

Refreshing swaps the current jti in one Lua step, so of two concurrent refreshes with one token
exactly one wins. The loser presents the token just rotated, within JWT_REFRESH_GRACE_SECONDS (5 s)
of its rotation: it is answered 401 and the session, with the winner's new pair, lives on. Any other
refresh token that is no longer the current one (a stolen, already rotated token; the previous one
after its grace) deletes the session, which ends every token of the family at once. Ending a
session is announced on the auth event stream so open sockets close.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, get_jti

from journal.accounts import AUTH_EVENTS, AUTH_EVENTS_KEEP, Account, account_key, announce, load_account
from journal.extensions import get_redis

SESSION_PREFIX = "session:"

# KEYS: session key, auth event stream. ARGV: presented jti, new jti, stream length, fid, now,
# end of the new grace (epoch seconds). Returns 1 (rotated), 0 (no such session), -2 (the token just
# rotated, within its grace: refused, the session lives) or -1 (a rotated token reused: it is ended).
ROTATE = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local current, user, previous, grace_end = string.match(value, '^([^|]*)|([^|]*)|?([^|]*)|?([^|]*)$')
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2] .. '|' .. user .. '|' .. ARGV[1] .. '|' .. ARGV[6], 'KEEPTTL')
  return 1
end
if previous == ARGV[1] and tonumber(ARGV[5]) < (tonumber(grace_end) or 0) then return -2 end
redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'session', 'fid', ARGV[4])
return -1
"""


class TokenRejected(Exception):
    """The token cannot be used (its session ended, its account refuses it, or it was reused)."""


@dataclass(frozen=True)
class Issued:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives

    def as_dict(self, account: Account) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "user": account.to_dict(),
        }


def session_key(fid: str) -> str:
    return SESSION_PREFIX + fid


def _pair(account: Account, fid: str, session_end: int) -> tuple[Issued, str]:
    config = current_app.config
    now = time.time()
    access_life = config["JWT_ACCESS_TOKEN_EXPIRES"]
    refresh_seconds = min(config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds(), session_end - now)
    if refresh_seconds <= 0:
        raise TokenRejected("The session has reached its end; log in again.")
    # `it`: the issue time to the microsecond (JWT's iat is whole seconds), compared with the
    # account's tokens_valid_after, so a log-in right after a re-enable is not mistaken for an old one.
    claims = {"fid": fid, "sx": session_end, "it": now}
    access = create_access_token(str(account.id), additional_claims={**claims, "role": account.role})
    refresh = create_refresh_token(
        str(account.id), expires_delta=timedelta(seconds=refresh_seconds), additional_claims=claims
    )
    return Issued(access, refresh, int(access_life.total_seconds())), get_jti(refresh)


def start_session(account: Account) -> Issued:
    """Log in: a new session with its first pair of tokens."""
    fid = uuid.uuid4().hex
    session_end = int(time.time() + current_app.config["JWT_SESSION_SECONDS"])
    issued, refresh_jti = _pair(account, fid, session_end)
    get_redis().set(session_key(fid), f"{refresh_jti}|{account.id}", exat=session_end)
    return issued


def rotate(refresh_claims: dict, account: Account) -> Issued:
    """A new pair for a live refresh token, once; a reused one ends the whole session, unless it is
    the one just rotated, presented within its grace (a concurrent refresh that lost)."""
    fid = refresh_claims["fid"]
    issued, new_jti = _pair(account, fid, int(refresh_claims["sx"]))
    now = time.time()
    grace_end = now + current_app.config["JWT_REFRESH_GRACE_SECONDS"]
    keys = (session_key(fid), AUTH_EVENTS)
    outcome = get_redis().eval(
        ROTATE, 2, *keys, refresh_claims["jti"], new_jti, AUTH_EVENTS_KEEP, fid, now, grace_end
    )
    if outcome == -2:
        raise TokenRejected("This refresh token was just rotated by another request; use the new pair.")
    if outcome == -1:
        raise TokenRejected("This refresh token was already used; the session is revoked.")
    if outcome != 1:
        raise TokenRejected("The session has ended; log in again.")
    return issued


def end_session(fid: str) -> None:
    """Log out: every token of the session stops working, and open sockets of it close."""
    get_redis().delete(session_key(fid))
    announce(kind="session", fid=fid)


def issued_at(claims: dict) -> float:
    return float(claims.get("it", claims["iat"]))


def live_account(claims: dict) -> Account | None:
    """The account a token acts for, or None when the token must be refused (one Redis round trip)."""
    fid, user_id = claims.get("fid"), int(claims["sub"])
    if not isinstance(fid, str):
        return None
    session, cached = get_redis().mget(session_key(fid), account_key(user_id))
    if session is None or session.split("|")[1:2] != [str(user_id)]:
        return None
    account = load_account(user_id, cached)
    if account is None or not account.accepts(issued_at(claims)):
        return None
    return account
