"""Access tokens this process has verified already, so a client's next request with the same token
skips the signature check: bounded (the oldest goes first), and an entry serves only until the
token's own expiry. Revocation is not cached: every request still checks the token's session and
account (journal/tokens.py live_account)."""

import time

MAX_ENTRIES = 4096


class VerifiedTokens:
    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self.entries: dict[str, dict] = {}  # insertion order: the oldest first

    def get(self, token: str) -> dict | None:
        """The claims of `token` if it was verified here and has not expired."""
        claims = self.entries.get(token)
        if claims is not None and claims["exp"] <= time.time():
            self.entries.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict) -> None:
        """Remember a verified access token; any other kind (a refresh token shown to a socket, say)
        is never kept, so it can never pass for an access token on the next request."""
        if claims.get("type") != "access":
            return
        if len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)), None)
        self.entries[token] = claims


verified = VerifiedTokens()
