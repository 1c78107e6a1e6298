"""CSV exports streamed from PostgreSQL's COPY (the server writes the CSV): the signal history of a
time range with the list's filters, and a user's own journal; never held whole in memory.

The COPY runs in a thread (a greenlet in the web process) that hands its chunks over a bounded
queue, so a slow client holds back the server instead of filling memory, and a client that goes
away ends the COPY. Text a spreadsheet would run as a formula (=, +, -, @ first) is prefixed
with a quote; prices are decimal text without trailing zeros, as in the API.
"""

import queue
import threading
from collections.abc import Iterator

from sqlalchemy import Engine, Text, case, cast, func, literal, select

from journal.models import Signal, UserSignal
from journal.stream.filters import filter_conditions

CHUNKS_WAITING = 64  # COPY's chunks (about 8 KiB each) held for a slow client
EXPORT_STATEMENT_TIMEOUT = "10min"  # the roles' own limits (seconds) are for queries, not exports
FORMULA_START = "^[=+@\t\r-]"


def formula_safe(column):  # noqa: ANN001, ANN201 - SQLAlchemy expressions
    return case((column.regexp_match(FORMULA_START), literal("'") + column), else_=column)


SIGNAL_COLUMNS = [
    Signal.signal_id.label("id"),
    Signal.created_at,
    Signal.symbol,
    Signal.side,
    func.trim_scale(Signal.entry_price).label("entry_price"),
    func.trim_scale(Signal.stop_loss).label("stop_loss"),
    func.trim_scale(Signal.take_profit).label("take_profit"),
    Signal.risk_tier,
    Signal.confidence,
    Signal.grade,
    Signal.timeframe,
    Signal.source,
    formula_safe(Signal.strategy).label("strategy"),
    Signal.status,
    Signal.outcome,
    func.trim_scale(Signal.outcome_price).label("outcome_price"),
    Signal.outcome_at,
    Signal.expires_at,
    cast(Signal.payload, Text).label("payload"),
]


def signals_csv(engine: Engine, args: dict) -> Iterator[bytes]:
    """The signals `args` selects (schemas.ExportFilter), oldest first, as CSV with a header."""
    query = select(*SIGNAL_COLUMNS).where(*filter_conditions(args)).order_by(Signal.id)
    return copy_csv(engine, query)


def journal_csv(engine: Engine, user_id: int) -> Iterator[bytes]:
    """One user's taken and noted signals with their notes, oldest entry first."""
    query = (
        select(
            *SIGNAL_COLUMNS,
            UserSignal.taken_at,
            UserSignal.journaled_at,
            formula_safe(UserSignal.notes).label("notes"),
        )
        .join(
            UserSignal,
            (UserSignal.signal_pk == Signal.id) & (UserSignal.signal_created_at == Signal.created_at),
        )
        .where(UserSignal.user_id == user_id)
        .where(UserSignal.taken_at.is_not(None) | UserSignal.notes.is_not(None))
        .order_by(UserSignal.id)
    )
    return copy_csv(engine, query)


def copy_csv(engine: Engine, query) -> Iterator[bytes]:  # noqa: ANN001 - a SQLAlchemy select
    """Stream `query`'s rows as CSV with a header, written by PostgreSQL's COPY."""
    compiled = query.compile(dialect=engine.dialect)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            select_sql = cur.mogrify(str(compiled), compiled.params).decode()
    except BaseException:
        raw.close()
        raise
    copy = f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv, HEADER)"
    return stream_copy(raw, copy)


class Handover:
    """The file COPY writes to: chunks go into a bounded queue until the reader is gone."""

    def __init__(self) -> None:
        self.chunks: queue.Queue = queue.Queue(maxsize=CHUNKS_WAITING)
        self.gone = threading.Event()

    def write(self, data: bytes) -> None:
        while not self.gone.is_set():
            try:
                self.chunks.put(bytes(data), timeout=1)
                return
            except queue.Full:
                continue
        raise ConnectionAbortedError("the client went away")


def stream_copy(raw, copy: str) -> Iterator[bytes]:  # noqa: ANN001 - a pooled DBAPI connection
    handover = Handover()
    done = object()

    def produce() -> None:
        outcome: object = done
        try:
            with raw.cursor() as cur:
                cur.execute("SET LOCAL statement_timeout = %s", (EXPORT_STATEMENT_TIMEOUT,))
                cur.copy_expert(copy, handover)
            raw.commit()
        except Exception as err:  # handed to the reader, which raises it (unless it has gone)
            outcome = err
        finally:
            raw.close()  # a connection left in a transaction is rolled back as it goes back
            if not handover.gone.is_set():
                handover.chunks.put(outcome)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        while (chunk := handover.chunks.get()) is not done:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk
    finally:
        handover.gone.set()
