"""ORM mappings of the tables that database_migrations/ creates (never create_all)."""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Numeric, SmallInteger, Text, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column

from journal.extensions import db
from journal.jsonio import price_text


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    # Loaded only when read (the log-in check): the worker and admin roles may not select it.
    password_hash: Mapped[str] = mapped_column(Text, deferred=True)
    role: Mapped[str] = mapped_column(Text, server_default="user")
    risk_tier: Mapped[str] = mapped_column(Text, server_default="low")
    plan: Mapped[str] = mapped_column(Text, server_default="free")
    disabled: Mapped[bool] = mapped_column(server_default=db.false())
    tokens_valid_after: Mapped[datetime | None] = mapped_column(server_default=db.text("NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=db.func.now())

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "risk_tier": self.risk_tier,
            "plan": self.plan,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
        }


class Signal(db.Model):
    __tablename__ = "signals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    signal_id: Mapped[UUID] = mapped_column(server_default=db.func.gen_random_uuid())
    symbol: Mapped[str] = mapped_column(Text)
    side: Mapped[str] = mapped_column(Text)
    entry_price: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    stop_loss: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    take_profit: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    risk_tier: Mapped[str] = mapped_column(Text)
    confidence: Mapped[int] = mapped_column(SmallInteger)
    grade: Mapped[str] = mapped_column(Text)
    timeframe: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    strategy: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_price: Mapped[Decimal | None] = mapped_column(Numeric(24, 10))
    outcome_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=db.func.now())
    dedup_key: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict:
        return signal_dict(self)


class StreamEvent(db.Model):
    """An outbox row: one event of the stream (a signal's creation or its outcome) and its seq."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    signal_pk: Mapped[int] = mapped_column(BigInteger)
    signal_created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(Text)
    signal_tier: Mapped[str] = mapped_column(Text)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=db.func.now())
    sequenced_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


# A signal's stream position is its creation event's seq (None until the relay sequences it). The
# event names the signal by its whole key: a row inserted behind the API's back with another
# signal's id (the key is (id, created_at)) is not taken for that signal, nor shown as sequenced.
Signal.seq = column_property(
    select(StreamEvent.seq)
    .where(
        StreamEvent.signal_pk == Signal.id,
        StreamEvent.signal_created_at == Signal.created_at,
        StreamEvent.kind == "signal",
    )
    .scalar_subquery()
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# The price columns of a signal. Queries that read many signals have PostgreSQL write them as
# text (trim_scale(price)::text, catchup.SIGNAL_COLUMNS and signal_api.PAGE_COLUMNS), which
# signal_dict passes on as it is.
PRICE_COLUMNS = ("entry_price", "stop_loss", "take_profit", "outcome_price")


def signal_dict(row: object) -> dict:
    """The public form of a signal, from an ORM object or a result row with the same names."""
    return {
        "id": str(row.signal_id),
        "seq": getattr(row, "seq", None),  # its stream position, where the row was read with it
        "symbol": row.symbol,
        "side": row.side,
        "entry_price": price_text(row.entry_price),
        "stop_loss": price_text(row.stop_loss),
        "take_profit": price_text(row.take_profit),
        "risk_tier": row.risk_tier,
        "confidence": row.confidence,
        "grade": row.grade,
        "timeframe": row.timeframe,
        "source": row.source,
        "strategy": row.strategy,
        "payload": row.payload,
        "status": row.status,
        "outcome": row.outcome,
        "outcome_price": price_text(row.outcome_price),
        "outcome_at": iso(row.outcome_at),
        "expires_at": iso(row.expires_at),
        "created_at": iso(row.created_at),
    }


class UserSignal(db.Model):
    __tablename__ = "user_signals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    signal_pk: Mapped[int] = mapped_column(BigInteger)
    signal_created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    taken_at: Mapped[datetime | None]
    journaled_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict:
        return {
            "delivered_at": iso(self.delivered_at),
            "taken_at": iso(self.taken_at),
            "journaled_at": iso(self.journaled_at),
            "notes": self.notes,
        }
