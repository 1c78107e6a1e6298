"""The socket watcher's sweep (journal/socket_sessions.py) against sockets that connect meanwhile.

The sweep re-checks every open socket's session key and account in two reads that yield to other
greenlets; with 10,000 sockets connecting at once, the benchmark saw 0.5-1.3% of them ended as
"revoked" right after connecting: they were checked against reads made before they existed.
Here a socket opens while the sweep reads (real Redis and PostgreSQL, real sessions from a log-in),
and what the sweep ends is recorded.
"""

from flask_jwt_extended import decode_token

from journal import socket_sessions
from journal.accounts import load_account


class Ends:
    """Stands in for the Socket.IO server: records the sockets the sweep would close."""

    def __init__(self) -> None:
        self.ended: list[str] = []
        self.server = self

    def emit(self, event: str, data: dict, to: str, **_: object) -> None:
        self.ended.append(to)

    def disconnect(self, sid: str, **_: object) -> None:
        pass


def open_socket(sid: str, token: str) -> None:
    claims = decode_token(token)
    socket_sessions.open_session(sid, claims, load_account(int(claims["sub"])))


def test_a_socket_that_connects_while_the_sweep_reads_is_not_ended_as_revoked(
    app, make_user, login, monkeypatch
):
    first, late = (login(make_user("user", "low"))["access_token"] for _ in range(2))
    real_load_accounts = socket_sessions.load_accounts

    def connect_meanwhile(user_ids: list[int]) -> dict:
        open_socket("late-socket", late)  # another greenlet's connect, between the sweep's reads
        return real_load_accounts(user_ids)

    monkeypatch.setattr(socket_sessions, "load_accounts", connect_meanwhile)
    ends = Ends()
    with app.app_context():
        try:
            open_socket("first-socket", first)
            socket_sessions._sweep(ends)
            assert ends.ended == []
            assert set(socket_sessions.sessions) >= {"first-socket", "late-socket"}
        finally:
            for sid in ("first-socket", "late-socket"):
                socket_sessions.close_session(sid)


def test_the_sweep_still_ends_a_socket_whose_session_was_ended(app, make_user, login):
    from journal.extensions import get_redis
    from journal.tokens import session_key

    token = login(make_user("user", "low"))["access_token"]
    ends = Ends()
    with app.app_context():
        try:
            open_socket("gone-socket", token)
            get_redis().delete(session_key(decode_token(token)["fid"]))  # a logout whose event was lost
            socket_sessions._sweep(ends)
            assert ends.ended == ["gone-socket"]
        finally:
            socket_sessions.close_session("gone-socket")
