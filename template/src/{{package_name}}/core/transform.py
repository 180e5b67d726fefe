"""Cleaning records and (de)serialising processed batches."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .records import FIELDS, ParsedBatch, Record, Rejected


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
    """Stable, compact JSON: the same batch always gives the same bytes (and hash).

    Records are stored by field order (FIELDS), one compact row per record, so a batch
    stays about the size of its raw CSV instead of repeating every field name per record.
    """
    document = {
        "source": batch.source,
        "raw_sha256": batch.raw_sha256,
        "columns": list(FIELDS),
        "records": [
            [r.record_id, r.occurred_on.isoformat(), r.category, r.quantity, str(r.unit_price)]
            for r in batch.records
        ],
        "rejected": [[r.line, r.reason] for r in batch.rejected],
    }
    rows = ",\n".join(json.dumps(row, separators=(",", ":")) for row in document.pop("records"))
    head = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return f'{head[:-1]},"records":[\n{rows}\n]}}\n'.encode()


def batch_from_json(data: bytes) -> ProcessedBatch:
    """Inverse of `batch_to_json`."""
    document: dict[str, Any] = json.loads(data)
    return ProcessedBatch(
        source=document["source"],
        raw_sha256=document["raw_sha256"],
        records=tuple(
            Record(
                record_id=record_id,
                occurred_on=date.fromisoformat(occurred_on),
                category=category,
                quantity=int(quantity),
                unit_price=Decimal(unit_price),
            )
            for record_id, occurred_on, category, quantity, unit_price in document["records"]
        ),
        rejected=tuple(Rejected(line=line, reason=reason) for line, reason in document["rejected"]),
    )
