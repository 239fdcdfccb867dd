"""ORM mappings onto contract/schema.sql (owned by the harness: never created here)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Numeric, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username}


class Item(Base):
    __tablename__ = "items"
    # Fetch server-generated id/timestamps with RETURNING: async sessions cannot lazy-load them.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    price: Mapped[Decimal] = mapped_column(Numeric(9, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set by the views on every PUT/PATCH, even one that rewrites identical values.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "price": _price_json(self.price),
            "created_at": _rfc3339(self.created_at),
            "updated_at": _rfc3339(self.updated_at),
        }


def _price_json(price: Decimal) -> int | float:
    """NUMERIC(9,2) fits a float exactly enough to print as written (12.5, not "12.50")."""
    return int(price) if price == price.to_integral_value() else float(price)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
