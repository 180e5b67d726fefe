"""The record schema: parsing and validating CSV rows.

A source is a CSV file with the columns in `COLUMNS`. Rows that break a rule are
kept aside as rejects with a reason, so one bad row never sinks a whole file; a
file without the required columns is rejected as a whole.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

COLUMNS = ("record_id", "occurred_on", "category", "quantity", "unit_price")


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
    """A row that failed validation; `line` is its line number in the file."""

    line: int
    reason: str


@dataclass(frozen=True)
class ParsedBatch:
    """The valid records and the rejects of one file."""

    records: tuple[Record, ...]
    rejected: tuple[Rejected, ...]


def parse_csv(data: bytes) -> ParsedBatch:
    """Parse and validate CSV bytes (UTF-8, optional BOM, header row first)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not UTF-8 text: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise SchemaError(f"missing column(s): {', '.join(missing)}")
    reader.fieldnames = header

    records: list[Record] = []
    rejected: list[Rejected] = []
    for row in reader:
        try:
            records.append(parse_row(row))
        except ValueError as exc:
            rejected.append(Rejected(line=reader.line_num, reason=str(exc)))
    return ParsedBatch(records=tuple(records), rejected=tuple(rejected))


def parse_row(row: dict[str, str | None]) -> Record:
    """Validate one CSV row; raise ValueError with a readable reason."""
    values = {column: (row.get(column) or "").strip() for column in COLUMNS}
    if not values["record_id"]:
        raise ValueError("record_id is empty")
    if not values["category"]:
        raise ValueError("category is empty")
    try:
        occurred_on = date.fromisoformat(values["occurred_on"])
    except ValueError:
        raise ValueError(f"occurred_on {values['occurred_on']!r} is not a date") from None
    try:
        quantity = int(values["quantity"])
    except ValueError:
        raise ValueError(f"quantity {values['quantity']!r} is not a whole number") from None
    if quantity < 0:
        raise ValueError(f"quantity {quantity} is negative")
    try:
        unit_price = Decimal(values["unit_price"])
    except InvalidOperation:
        raise ValueError(f"unit_price {values['unit_price']!r} is not a number") from None
    if not unit_price.is_finite() or unit_price < 0:
        raise ValueError(f"unit_price {values['unit_price']!r} must be a non-negative number")
    return Record(
        record_id=values["record_id"],
        occurred_on=occurred_on,
        category=values["category"],
        quantity=quantity,
        unit_price=unit_price,
    )
