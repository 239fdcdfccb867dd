"""ORM mappings onto the tables of spikes/contract/schema.sql (which this app never creates).

Plain DeclarativeBase rather than advanced-alchemy's BigIntAuditBase: those bases bring their own
id sequence and audit columns, and the schema's identity columns and tables are fixed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Numeric, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MAX_BIGINT = 2**63 - 1  # larger ids and offsets are rejected before they reach PostgreSQL


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Item(Base):
    __tablename__ = "items"
    # Fetch the server-generated id and timestamps in the INSERT/UPDATE itself (RETURNING):
    # an async session cannot lazy-load them afterwards.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    price: Mapped[Decimal] = mapped_column(Numeric(9, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set explicitly to now() by PUT and PATCH (see routes.py), so even a no-op PUT bumps it.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
