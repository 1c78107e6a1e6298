"""A client that was away: connect with a cursor COUNT signals behind and time the catch-up.

`python -m bench.catchup URL TOKEN SINCE COUNT` connects a stream client (journal/stream/client.py,
the seq/prev rules of every client) with `since`, and prints one JSON line: seconds until the
connection was acknowledged, seconds until COUNT signals were applied, and how many arrived.
"""

import json
import sys
import time

from journal.stream.client import StreamClient


def main() -> None:
    url, token, since, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = StreamClient(url, token, since=since)
    started = time.perf_counter()
    client.connect(timeout=10)  # python-socketio's default wait is 1 s; the replay follows the ack
    connected = time.perf_counter() - started
    deadline = started + 120
    while len(client.applied) < count and time.perf_counter() < deadline:
        time.sleep(0.005)
    applied = time.perf_counter() - started
    client.close()
    print(json.dumps({"connected": connected, "applied": applied, "signals": len(client.applied)}))


if __name__ == "__main__":
    main()
