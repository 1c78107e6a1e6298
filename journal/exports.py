"""CSV exports streamed as they are read: the signal history of a time range with the list's filters,
and a user's own journal; never held whole in memory.

PostgreSQL writes each CSV line (quoting and formatting in SQL), and a server-side cursor hands
them over EXPORT_CHUNK lines at a time, so a slow client holds back the cursor instead of filling
memory, and a client that goes away closes it. (COPY would be quicker still, but psycopg2 refuses
COPY under the gevent wait callback a web process runs with.) Text a spreadsheet would run as a
formula (=, +, -, @ first) is prefixed with a quote; prices are decimal text as in the API, times
ISO 8601 in UTC.

An export holds a pooled connection for as long as its client reads, so a web process runs at
most EXPORTS_AT_ONCE of them; one more is answered 503 with Retry-After, so slow readers can never
take the connections every other request needs.
"""

import threading
from collections.abc import Callable, Iterator

from sqlalchemy import Engine, Select, literal_column, select

from journal.errors import APIError
from journal.models import Signal, UserSignal
from journal.stream.filters import filter_conditions

EXPORT_CHUNK = 10_000  # lines fetched per round trip
EXPORT_TIMEOUT = "10min"  # the roles' own limits are for queries, not exports
EXPORTS_AT_ONCE = 4  # per web process (its pools hold 30 connections per role)
EXPORT_SLOTS = threading.BoundedSemaphore(EXPORTS_AT_ONCE)  # gevent's own under monkey-patching


def text(column: str) -> str:
    """A text column as a CSV field: always quoted, a formula defused, NULL empty."""
    defused = f"CASE WHEN {column} ~ '^[=+@\\t\\r-]' THEN '''' || {column} ELSE {column} END"
    quoted = f"replace({defused}, '\"', '\"\"')"
    return f"coalesce('\"' || {quoted} || '\"', '')"


def plain(expression: str) -> str:
    return f"coalesce(({expression})::text, '')"


def moment(column: str) -> str:
    return f"coalesce(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')"


FIELDS = {  # the CSV's columns and how PostgreSQL writes each
    "id": plain("signals.signal_id"),
    "created_at": moment("signals.created_at"),
    "symbol": text("signals.symbol"),
    "side": text("signals.side"),
    "entry_price": plain("trim_scale(signals.entry_price)"),
    "stop_loss": plain("trim_scale(signals.stop_loss)"),
    "take_profit": plain("trim_scale(signals.take_profit)"),
    "risk_tier": text("signals.risk_tier"),
    "confidence": plain("signals.confidence"),
    "grade": text("signals.grade"),
    "timeframe": text("signals.timeframe"),
    "source": text("signals.source"),
    "strategy": text("signals.strategy"),
    "status": text("signals.status"),
    "outcome": text("signals.outcome"),
    "outcome_price": plain("trim_scale(signals.outcome_price)"),
    "outcome_at": moment("signals.outcome_at"),
    "expires_at": moment("signals.expires_at"),
    "payload": text("signals.payload::text"),
}
JOURNAL_FIELDS = {
    "taken_at": moment("user_signals.taken_at"),
    "journaled_at": moment("user_signals.journaled_at"),
    "notes": text("user_signals.notes"),
}


def line(fields: dict[str, str]):  # noqa: ANN201 - a SQLAlchemy column
    return literal_column(" || ',' || ".join(fields.values())).label("line")


def signals_csv(engine: Engine, args: dict) -> Iterator[bytes]:
    """The signals `args` selects (schemas.ExportFilter), oldest first, as CSV with a header."""
    query = select(line(FIELDS)).select_from(Signal).where(*filter_conditions(args)).order_by(Signal.id)
    return stream_lines(engine, query, FIELDS)


def journal_csv(engine: Engine, user_id: int) -> Iterator[bytes]:
    """One user's taken and noted signals with their notes, oldest entry first."""
    fields = FIELDS | JOURNAL_FIELDS
    query = (
        select(line(fields))
        .select_from(Signal)
        .join(
            UserSignal,
            (UserSignal.signal_pk == Signal.id) & (UserSignal.signal_created_at == Signal.created_at),
        )
        .where(UserSignal.user_id == user_id)
        .where(UserSignal.taken_at.is_not(None) | UserSignal.notes.is_not(None))
        .order_by(UserSignal.id)
    )
    return stream_lines(engine, query, fields)


class Slotted:
    """An export's lines that give its slot back when the response closes, read to the end or not."""

    def __init__(self, lines: Iterator[bytes], release: Callable[[], None]) -> None:
        self.lines, self.release = lines, release

    def __iter__(self) -> "Slotted":
        return self

    def __next__(self) -> bytes:
        try:
            return next(self.lines)
        except BaseException:  # the end, or a failure: the slot is free at once, closed or not
            self.close()
            raise

    def close(self) -> None:
        try:
            self.lines.close()
        finally:
            if self.release is not None:
                self.release, release = None, self.release
                release()


def stream_lines(engine: Engine, query: Select, fields: dict[str, str]) -> Slotted:
    """The export's lines, once one of this process's export slots is free (else 503)."""
    if not EXPORT_SLOTS.acquire(blocking=False):
        raise APIError(503, f"{EXPORTS_AT_ONCE} exports are running here; try again shortly.", retry_after=5)
    return Slotted(read_lines(engine, query, fields), EXPORT_SLOTS.release)


def read_lines(engine: Engine, query: Select, fields: dict[str, str]) -> Iterator[bytes]:
    """The header, then the query's lines, read through a server-side cursor; the connection goes
    back to the pool when the last line is sent or the client leaves."""
    compiled = query.compile(dialect=engine.dialect)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = %s", (EXPORT_TIMEOUT,))
            cur.execute("SET LOCAL idle_in_transaction_session_timeout = %s", (EXPORT_TIMEOUT,))
        yield (",".join(fields) + "\n").encode()
        with raw.cursor(name="export") as cur:
            cur.itersize = EXPORT_CHUNK
            cur.execute(str(compiled), compiled.params)
            while rows := cur.fetchmany(EXPORT_CHUNK):
                yield ("\n".join(row[0] for row in rows) + "\n").encode()
        raw.commit()
    finally:
        raw.close()  # a transaction left open (the client went away) is rolled back
