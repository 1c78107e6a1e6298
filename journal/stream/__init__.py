"""The way of a signal after validation, one module per step; open them in this order.

1. record.py    record_signals(): one signal or a batch, each under its dedup key (keys.py), with
                its outbox row and the audit row in one statement (nothing is emitted before
                commit), then a nudge to the relay.
2. relay.py     the outbox relay, one at a time: give each committed row a gap-free seq in the order
                rows become visible, publish, move the published mark; the only code that emits
                to rooms (journal/relayd.py runs it).
3. emit.py      the write-only Socket.IO emitter (through Redis) and the rooms tier:<t>, user:<id>.
4. catchup.py   what a client reads: snapshot pages and the replay after its cursor.
5. redeliver.py what a web process missed while Redis was away, sent again to its own rooms.
6. receipts.py  delivery receipts (signal:ack) written in batches.
7. presence.py  who is connected.
   events.py    every socket event and task name; client.py is a complete Python client.
"""
