"""A resource's table: made from its model when missing (a column per field, the key a unique constraint), or an
existing table of that name used as it is."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from batchyard.core.resources import Resource, ResourceField
from batchyard.errors import StorageError
from batchyard.store.sql.database import Database


class DecimalText(TypeDecorator[Decimal]):
    """SQLite has no exact decimal type (NUMERIC keeps a float): decimals are kept as their text, exactly."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


def column_type(f: ResourceField) -> TypeEngine[Any]:
    if f.kind == "text":
        return String(f.max_length) if f.max_length else Text()
    if f.kind == "decimal":
        exact = Numeric(38, f.decimal_places) if f.decimal_places is not None else Numeric()
        return exact.with_variant(DecimalText(), "sqlite")
    simple: dict[str, TypeEngine[Any]] = {
        "integer": BigInteger(),
        "float": Float(),
        "boolean": Boolean(),
        "date": Date(),
        "datetime": DateTime(timezone=True),
    }
    return simple[f.kind]


def model_table(resource: Resource, metadata: MetaData) -> Table:
    """The table the model describes (not created)."""
    columns = [Column(f.name, column_type(f), nullable=f.nullable) for f in resource.fields]
    return Table(resource.table, metadata, *columns, UniqueConstraint(*resource.key))


def ensure_table(db: Database, resource: Resource) -> Table:
    """The resource's table: reflected when it exists (used as it is), else created from the model."""
    try:
        with db.write() as conn:
            if not inspect(conn).has_table(resource.table):
                table = model_table(resource, MetaData())
                table.create(conn)
                return table
    except (StorageError, IntegrityError):  # another process created it at the same moment: use theirs
        pass
    with db.read() as conn:
        table = Table(resource.table, MetaData(), autoload_with=conn)
    for f in resource.fields:  # values are read and written as the model says (a decimal kept as text on SQLite)
        if f.name in table.c:
            table.c[f.name].type = column_type(f)
    return table
