"""Cleaning records and (de)serialising processed batches."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .records import ParsedBatch, Record, Rejected


@dataclass(frozen=True)
class ProcessedBatch:
    """The cleaned records of one source, tied to the raw snapshot they came from."""

    source: str
    raw_sha256: str
    records: tuple[Record, ...]
    rejected: tuple[Rejected, ...]


def normalise_category(category: str) -> str:
    """Lowercase, trim and collapse inner whitespace: ' Office  Supplies' -> 'office supplies'."""
    return re.sub(r"\s+", " ", category).strip().lower()


def deduplicate(records: Iterable[Record]) -> tuple[Record, ...]:
    """Keep the first record of each record_id, ordered by date then id."""
    unique: dict[str, Record] = {}
    for record in records:
        unique.setdefault(record.record_id, record)
    return tuple(sorted(unique.values(), key=lambda r: (r.occurred_on, r.record_id)))


def clean(parsed: ParsedBatch, *, source: str, raw_sha256: str) -> ProcessedBatch:
    """Normalise categories and drop duplicate ids."""
    normalised = (
        Record(
            record_id=r.record_id,
            occurred_on=r.occurred_on,
            category=normalise_category(r.category),
            quantity=r.quantity,
            unit_price=r.unit_price,
        )
        for r in parsed.records
    )
    return ProcessedBatch(
        source=source,
        raw_sha256=raw_sha256,
        records=deduplicate(normalised),
        rejected=parsed.rejected,
    )


def batch_to_json(batch: ProcessedBatch) -> bytes:
    """Stable JSON: the same batch always gives the same bytes (and hash)."""
    document = {
        "source": batch.source,
        "raw_sha256": batch.raw_sha256,
        "records": [
            {
                "record_id": r.record_id,
                "occurred_on": r.occurred_on.isoformat(),
                "category": r.category,
                "quantity": r.quantity,
                "unit_price": str(r.unit_price),
            }
            for r in batch.records
        ],
        "rejected": [{"line": r.line, "reason": r.reason} for r in batch.rejected],
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def batch_from_json(data: bytes) -> ProcessedBatch:
    """Inverse of `batch_to_json`."""
    document: dict[str, Any] = json.loads(data)
    return ProcessedBatch(
        source=document["source"],
        raw_sha256=document["raw_sha256"],
        records=tuple(
            Record(
                record_id=r["record_id"],
                occurred_on=date.fromisoformat(r["occurred_on"]),
                category=r["category"],
                quantity=int(r["quantity"]),
                unit_price=Decimal(r["unit_price"]),
            )
            for r in document["records"]
        ),
        rejected=tuple(Rejected(line=r["line"], reason=r["reason"]) for r in document["rejected"]),
    )
