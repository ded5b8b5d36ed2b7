"""Every table of the database, as SQLAlchemy 2 models (the schema Alembic migrates).

``events`` is the append-only log and audit trail; ``incidents`` is the projection folded from
it (``dashboard.core.domain.fold``, written by ``dashboard.store.incidents``); ``users`` and
``api_keys`` hold the accounts (``dashboard.store.accounts``).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes, stored as UTC on every backend (SQLite has no timezones)."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "events"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    stream_pos: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentRow(Base):
    __tablename__ = "incidents"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    town_code: Mapped[str] = mapped_column(String(32))
    village_code: Mapped[str] = mapped_column(String(32))
    grid_code: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    reporter: Mapped[str] = mapped_column(String(64))
    base_urgency: Mapped[str] = mapped_column(String(8))
    urgency: Mapped[str] = mapped_column(String(8))
    photos: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(32))
    submitted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handler: Mapped[str | None] = mapped_column(String(64), nullable=True)
    level: Mapped[str] = mapped_column(String(16))
    resolved_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    supervised_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The case's deadline outcomes, computed when it is folded (``dashboard.store.incidents``),
    # so that every figure is an SQL aggregate: the district's targets (accept within 1 day,
    # close within 5 days, ``dashboard.core.metrics.deadlines``), the hours each step took, and
    # ``due_at``, the SLA table's deadline an open case waits for (None once closed): the case
    # is overdue from the first instant after it.
    accept_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    close_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hours_to_accept: Mapped[float | None] = mapped_column(Float, nullable=True)
    hours_to_close: Mapped[float | None] = mapped_column(Float, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_incidents_status_urgency", "status", "urgency"),
        Index("ix_incidents_status_reported", "status", "reported_at"),  # the console's list and total
        Index("ix_incidents_town_reported", "town_code", "reported_at"),
        Index("ix_incidents_grid_status", "grid_code", "status"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_closed_reported", "closed_at", "reported_at"),
        Index("ix_incidents_updated_at", "updated_at"),
        Index("ix_incidents_submitted_by", "submitted_by"),
        Index("ix_incidents_department", "department"),
        Index("ix_incidents_due_at", "due_at"),  # overdue now: due_at < now (open cases only)
        Index("ix_incidents_town_due", "town_code", "due_at"),
    )


INCIDENT_COLUMNS = [c.name for c in IncidentRow.__table__.columns]
DERIVED_COLUMNS = ("accept_by", "close_by", "hours_to_accept", "hours_to_close", "due_at")


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    town: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))           # "api" | "kiosk"
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    town: Mapped[str | None] = mapped_column(String(32), nullable=True)  # kiosk scope
    name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
