"""The relay's cursor: out-of-order commits are never skipped; concurrent relays keep one order."""

import threading
import uuid

from tests.conftest import role_conn

INSERT = (
    "WITH s AS (INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, "
    "dedup_key) VALUES ('BTCUSDT', 'buy', 100, 90, 120, %s, %s) RETURNING id, risk_tier) "
    "INSERT INTO outbox (signal_pk, kind, signal_tier) SELECT id, 'signal', risk_tier FROM s "
    "RETURNING signal_pk"
)


def insert(conn, tier: str = "low") -> int:
    with conn.cursor() as cur:
        cur.execute(INSERT, (tier, f"test:{uuid.uuid4()}"))
        return cur.fetchone()[0]


def test_out_of_order_commits_skip_nothing_with_seq_but_do_with_id(services, owner, relay):
    relay()
    with owner.cursor() as cur:
        cur.execute("SELECT coalesce(max(stream_seq), 0), coalesce(max(id), 0) FROM signals")
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
                "SELECT stream_seq, id FROM signals WHERE stream_seq > %s ORDER BY stream_seq", (after,)
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


def test_concurrent_relays_keep_one_gap_free_order(services, owner, relay):
    relay()
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
        cur.execute("SELECT id, stream_seq FROM signals WHERE id = ANY(%s) ORDER BY id", (ids,))
        rows = cur.fetchall()
        cur.execute("SELECT max(seq), count(seq) FROM outbox")
        top, total = cur.fetchone()
        cur.execute("SELECT o.seq, o.rooms FROM outbox o WHERE o.emitted_at IS NOT NULL ORDER BY o.seq")
        plans = cur.fetchall()
    seqs = [seq for _, seq in rows]
    assert None not in seqs
    assert seqs == sorted(seqs)  # sequenced in commit-visible (here: id) order
    assert top == total  # gap-free from 1, signals and outcomes in one stream
    last: dict[str, int] = {}
    for seq, rooms in plans:  # every room's prev chain links without a hole
        for room, prev in rooms.items():
            assert prev == last.get(room, 0)
            last[room] = seq
