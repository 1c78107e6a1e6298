"""The relay's cursor: out-of-order commits are never skipped; concurrent relays keep one order."""

import json
import threading
import time
import uuid

import redis

from journal.stream import events
from journal.stream.pubsub import CHANNEL
from tests.conftest import role_conn

INSERT = (
    "WITH s AS (INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
    "dedup_key) VALUES ('BTCUSDT', 'buy', 100, 90, 120, %s, %s) RETURNING id, created_at, risk_tier) "
    "INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
    "SELECT id, created_at, 'signal', risk_tier FROM s RETURNING signal_pk"
)


def insert(conn, tier: str = "low") -> int:
    with conn.cursor() as cur:
        cur.execute(INSERT, (tier, f"test:{uuid.uuid4()}"))
        return cur.fetchone()[0]


def test_out_of_order_commits_skip_nothing_with_seq_but_do_with_id(services, owner, relay):
    relay()
    with owner.cursor() as cur:
        cur.execute("SELECT (SELECT coalesce(max(seq), 0) FROM outbox), coalesce(max(id), 0) FROM signals")
        seq_cursor, id_cursor = cur.fetchone()
    slow, fast = role_conn(services, "app"), role_conn(services, "app")
    older = insert(slow)  # takes the smaller id, commits last
    newer = insert(fast)
    fast.commit()
    assert older < newer

    def read_by_id(after: int) -> list[int]:
        with owner.cursor() as cur:
            cur.execute("SELECT id FROM signals WHERE id > %s ORDER BY id", (after,))
            return [row[0] for row in cur.fetchall()]

    def read_by_seq(after: int) -> list[tuple[int, int]]:
        with owner.cursor() as cur:
            cur.execute(
                "SELECT seq, signal_pk FROM outbox WHERE kind = 'signal' AND seq > %s ORDER BY seq", (after,)
            )
            return cur.fetchall()

    relay()
    seen_by_id = read_by_id(id_cursor)
    seen_by_seq = read_by_seq(seq_cursor)
    assert seen_by_id == [newer] and [i for _, i in seen_by_seq] == [newer]
    id_cursor, seq_cursor = seen_by_id[-1], seen_by_seq[-1][0]

    slow.commit()
    relay()
    assert read_by_id(id_cursor) == []  # the naive cursor has jumped over `older` for good
    assert [i for _, i in read_by_seq(seq_cursor)] == [older]  # the seq cursor gets it
    slow.close()
    fast.close()


def published_messages(pubsub) -> list[dict]:
    """What the subscription got, until a second passes without a message."""
    messages, quiet_since = [], time.monotonic()
    while time.monotonic() - quiet_since < 1:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            messages.append(message)
            quiet_since = time.monotonic()
    return messages


def test_concurrent_relays_keep_one_gap_free_order(services, owner, relay):
    relay()
    published = redis.Redis.from_url(services["REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
    published.subscribe(CHANNEL)
    conn = role_conn(services, "app")
    ids = [insert(conn, tier) for tier in ("low", "medium", "high") * 200]
    conn.commit()
    conn.close()
    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    relay()
    with owner.cursor() as cur:
        cur.execute(
            "SELECT signal_pk, seq FROM outbox WHERE kind = 'signal' AND signal_pk = ANY(%s) ORDER BY 1",
            (ids,),
        )
        rows = cur.fetchall()
        cur.execute("SELECT max(seq), count(seq) FROM outbox")
        top, total = cur.fetchone()
    seqs = [seq for _, seq in rows]
    assert None not in seqs
    assert seqs == sorted(seqs)  # sequenced in commit-visible (here: id) order
    assert top == total  # gap-free from 1, signals and outcomes in one stream
    last: dict[str, int] = {}
    for message in published_messages(published):  # every room's prev chain links without a hole
        emitted = json.loads(message["data"])
        batch = emitted["data"][0]
        for event in batch["signals"] if emitted["event"] == events.SIGNALS_BATCH else [batch]:
            room = emitted["room"]
            assert event["prev"] == last.get(room, event["prev"]), (room, event["seq"])
            last[room] = event["seq"]
    assert set(last) == {"tier:low", "tier:medium", "tier:high"}
    published.close()
