"""The record schema: the fields every department's records have, and their rules.

A parser (core/parsers.py) turns a source's bytes into rows of named values; `validate`
turns those rows into records. Each department's `Schema` (flows/<department>/data.py)
names the parser kind and, where its sources call a field otherwise, the source's
name for it. Rows that break a rule are kept aside as rejects with a reason, so one
bad row never sinks a whole file; a file without the required fields is rejected as
a whole (SchemaError), and the pipeline quarantines it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

# The fields of a record, in the order processed batches store them.
FIELDS = ("record_id", "occurred_on", "category", "quantity", "unit_price")


class SchemaError(ValueError):
    """The file cannot be read as records at all."""


@dataclass(frozen=True)
class Record:
    """One validated row."""

    record_id: str
    occurred_on: date
    category: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Rejected:
    """A row that failed validation; `line` is its line in a CSV file, its position
    (from 1) in a JSON list."""

    line: int
    reason: str


@dataclass(frozen=True)
class ParsedBatch:
    """The valid records and the rejects of one file."""

    records: tuple[Record, ...]
    rejected: tuple[Rejected, ...]


@dataclass(frozen=True)
class Table:
    """What a parser makes of a file: its rows, each with its line or position, and the
    field names its header declares (None when the format has no header, as JSON)."""

    rows: Sequence[tuple[int, Any]]
    fields: Collection[str] | None = None


@dataclass(frozen=True)
class Schema:
    """How one department's sources hold its records.

    `kind` picks the parser (a key of core.parsers.PARSERS); `fields` maps a record
    field to the source's name for it, e.g. {"record_id": "order_id"}; a field not
    listed keeps its own name.
    """

    kind: str = "csv"
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown record field(s) {unknown}; the fields are {list(FIELDS)}")

    def source_names(self) -> dict[str, str]:
        """Every record field with the source's name for it."""
        return {name: self.fields.get(name, name) for name in FIELDS}

    def to_params(self) -> dict[str, Any]:
        """JSON-able, for a step's parameters: a changed schema redoes the processing."""
        return {"kind": self.kind, "fields": self.source_names()}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Schema:
        return cls(kind=params["kind"], fields=dict(params["fields"]))


def validate(table: Table, schema: Schema) -> ParsedBatch:
    """Records from the rows of a parsed file; rows that break a rule become rejects."""
    names = schema.source_names()
    present = table.fields
    if present is None:  # no header: a field counts as present if any row has it
        present = {key for _, row in table.rows if isinstance(row, Mapping) for key in row}
    missing = [name for name in names.values() if name not in present]
    if missing and (table.fields is not None or table.rows):  # an empty list is no records
        what = "column(s)" if table.fields is not None else "field(s)"
        raise SchemaError(f"missing {what}: {', '.join(missing)}")
    records: list[Record] = []
    rejected: list[Rejected] = []
    for position, row in table.rows:
        try:
            records.append(parse_row(row, names))
        except ValueError as exc:
            rejected.append(Rejected(line=position, reason=str(exc)))
    return ParsedBatch(records=tuple(records), rejected=tuple(rejected))


def _text(name: str, value: object) -> str:
    """A field's value as text: JSON numbers are fine, nested values are not."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{name} is a {type(value).__name__}, not a single value")


def parse_row(row: object, names: Mapping[str, str] | None = None) -> Record:
    """Validate one row (field name -> value); raise ValueError with a readable reason.

    `names` maps each record field to the row's name for it (default: the same name);
    the reasons use the row's names, as the author of the source knows them.
    """
    names = names or {name: name for name in FIELDS}
    if not isinstance(row, Mapping):
        raise ValueError(f"a {type(row).__name__}, not an object of named fields")
    values = {name: _text(source, row.get(source)) for name, source in names.items()}
    if not values["record_id"]:
        raise ValueError(f"{names['record_id']} is empty")
    if not values["category"]:
        raise ValueError(f"{names['category']} is empty")
    try:
        occurred_on = date.fromisoformat(values["occurred_on"])
    except ValueError:
        raise ValueError(
            f"{names['occurred_on']} {values['occurred_on']!r} is not a date"
        ) from None
    try:
        quantity = int(values["quantity"])
    except ValueError:
        raise ValueError(
            f"{names['quantity']} {values['quantity']!r} is not a whole number"
        ) from None
    if quantity < 0:
        raise ValueError(f"{names['quantity']} {quantity} is negative")
    try:
        unit_price = Decimal(values["unit_price"])
    except InvalidOperation:
        raise ValueError(
            f"{names['unit_price']} {values['unit_price']!r} is not a number"
        ) from None
    if not unit_price.is_finite() or unit_price < 0:
        raise ValueError(
            f"{names['unit_price']} {values['unit_price']!r} must be a non-negative number"
        )
    return Record(
        record_id=values["record_id"],
        occurred_on=occurred_on,
        category=values["category"],
        quantity=quantity,
        unit_price=unit_price,
    )
