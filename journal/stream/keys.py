"""Each signal's one dedup identity: the client's or strategy's key, else its canonical content.

A signal posted without a key is the same signal as another when its content is the same within
one candle of its timeframe: the same source, strategy, symbol, side, prices (as decimal text),
tier, confidence, grade, timeframe, expiry and payload, posted in the same candle (a double click,
a retried post, two workers proposing one setup). The identity is stored as the first 16 bytes of
its SHA-256 (signal_keys.key_hash, unique over every partition).
"""

import hashlib
import json
import time

from journal.domain import TIMEFRAME_SECONDS
from journal.jsonio import price_text

CONTENT_FIELDS = (
    "source", "strategy", "symbol", "side", "risk_tier", "confidence", "grade", "timeframe",
)  # fmt: skip
PRICES = ("entry_price", "stop_loss", "take_profit")


def key_hash(identity: str) -> bytes:
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).digest()[:16]


def content_identity(values: dict, now: float | None = None) -> str:
    """The canonical text of a signal's content and its candle (values as record.py stores them)."""
    content = {name: values[name] for name in CONTENT_FIELDS}
    content.update({name: price_text(values[name]) for name in PRICES})
    content["expires_at"] = values["given_expiry"]
    content["payload"] = values["payload"]
    candle = int((time.time() if now is None else now) // TIMEFRAME_SECONDS[values["timeframe"]])
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"content:{candle}:{canonical}"
