"""The way of a signal after validation, one module per step; open them in this order.

1. record.py    record_signal(): the signal, its outbox row and its audit row in one transaction
                (nothing is emitted before commit), then a nudge to the relay.
2. relay.py     the outbox relay, one at a time: give each committed row a gap-free stream_seq in
                the order rows become visible, emit, mark emitted; the only code that emits to rooms.
3. emit.py      the write-only Socket.IO emitter (through Redis) and the rooms tier:<t>, user:<id>.
4. catchup.py   what a client reads: snapshot pages and the replay after its cursor.
5. receipts.py  delivery receipts (signal:ack) written in batches.
6. presence.py  who is connected.
   events.py    every socket event and task name; client.py is a complete Python client.
"""
