"""An admin and users against a running stack (journal.devstack), and the check of what a client applied."""

import random
import time
import uuid

import requests

from journal.devstack import signal_body
from journal.stream.client import StreamClient

RECEIVES = {"low": {"low"}, "medium": {"low", "medium"}, "high": {"low", "medium", "high"}}
TIERS = ("low", "medium", "high")


def wait_until(predicate, timeout: float = 45, every: float = 0.25):
    """The first truthy value of `predicate()` within `timeout` seconds (a hang guard), else its last."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


class Hub:
    """An admin posting signals over HTTP and users logging in, against one web process."""

    def __init__(self, url: str, admin_app) -> None:
        self.url, self.admin_app = url, admin_app
        self.http = requests.Session()
        admin = self.user("admin", "high")
        self.http.headers["Authorization"] = f"Bearer {admin['access_token']}"
        self.posted: dict[str, tuple[str, float]] = {}
        self.settled: dict[str, str] = {}  # signal id -> the outcome recorded by hand

    def user(self, role: str = "user", tier: str = "low", url: str | None = None) -> dict:
        """A new account, logged in (on `url`, else this hub's web process): the login answer."""
        from journal.accounts import create_user

        email, password = f"{role}-{tier}-{uuid.uuid4().hex[:10]}@example.com", "correct-horse-battery"
        with self.admin_app.app_context():
            create_user(email, password, role, tier)
        resp = requests.post(
            (url or self.url) + "/api/auth/login", json={"email": email, "password": password}
        )
        return {**resp.json(), "password": password}

    def post(self, tier: str | None = None, **fields) -> str:
        """Post a signal of `tier` (random by default); keyword arguments replace body fields."""
        tier = tier or random.choice(TIERS)
        resp = self.http.post(self.url + "/api/admin/signals", json=signal_body(risk_tier=tier, **fields))
        assert resp.status_code == 201, resp.text
        self.posted[resp.json()["id"]] = (tier, time.time())
        return resp.json()["id"]

    def settle(self, sid: str, outcome: str = "WIN", deadline: float = 30) -> None:
        """Record an outcome by hand, retrying through restarts until it is stored (409: it was)."""
        give_up = time.monotonic() + deadline
        while True:
            try:
                resp = self.http.patch(
                    f"{self.url}/api/hub/signals/{sid}/outcome", json={"outcome": outcome}, timeout=5
                )
                if resp.status_code in (200, 409):
                    self.settled[sid] = outcome
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < give_up, f"outcome of {sid} not stored within {deadline} s"
            time.sleep(0.1)

    def expected_outcomes(self, tier: str) -> set[str]:
        return {sid for sid in self.settled if self.posted[sid][0] in RECEIVES[tier]}

    def expected(self, tier: str, ids=None) -> set[str]:
        ids = self.posted if ids is None else ids
        return {sid for sid in ids if self.posted[sid][0] in RECEIVES[tier]}

    def position(self, token: str) -> int:
        resp = requests.get(
            self.url + "/api/user/signals?limit=1", headers={"Authorization": f"Bearer {token}"}
        )
        return resp.json()["stream_seq"]

    def client(self, tier: str, url: str | None = None, live_from_now: bool = True) -> StreamClient:
        return self.client_of(self.user("user", tier, url), url, live_from_now)

    def client_of(self, login: dict, url: str | None = None, live_from_now: bool = True) -> StreamClient:
        """A stream client for a logged-in user (the answer of `user`); the login rides along as `.login`."""
        token = login["access_token"]
        since = self.position(token) if live_from_now else None
        client = StreamClient(url or self.url, token, since=since)
        client.login = login
        return client.connect()

    def patch_user(self, user_id: int, **changes) -> dict:
        resp = self.http.patch(f"{self.url}/api/admin/users/{user_id}", json=changes)
        assert resp.status_code == 200, resp.text
        return resp.json()


def assert_exact(client: StreamClient, expected: set[str]) -> None:
    """The client applied exactly `expected`: none missing, none twice, in seq order."""
    if not client.wait_for(expected):
        missing = len(expected - {s["id"] for s in client.applied})
        state = f"connected={client.sio.connected} ended={client.ended} pending={sorted(client.pending)[:5]}"
        raise AssertionError(f"missing {missing} of {len(expected)}; cursor {client.last}; {state}")
    time.sleep(0.3)  # anything extra would arrive now
    ids = [s["id"] for s in client.applied]
    assert len(ids) == len(set(ids)), "a signal was applied twice"
    assert set(ids) == expected
    seqs = [s["seq"] for s in client.applied]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def assert_outcomes(client: StreamClient, expected: set[str], only: bool = True) -> None:
    """The client got the outcomes of `expected` through its cursor, each once, in seq order; with
    `only`, no others (a stack whose engine settles signals itself may send more)."""
    got = lambda: {o["id"] for o in client.outcomes}  # noqa: E731
    assert wait_until(lambda: expected <= got(), 30), f"missing outcomes {len(expected - got())}"
    ids = [o["id"] for o in client.outcomes]
    assert len(ids) == len(set(ids)), "an outcome was applied twice"
    assert set(ids) == expected or not only, f"outcomes not settled here: {sorted(set(ids) - expected)}"
    seqs = [o["seq"] for o in client.outcomes]
    assert seqs == sorted(seqs)
