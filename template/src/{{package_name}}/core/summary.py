"""Summarising processed batches into totals, a JSON report and a Markdown page."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .records import Record
from .transform import ProcessedBatch, deduplicate

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Total:
    """Totals of one group (a category or a day)."""

    group: str
    records: int
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class Summary:
    """What a department's partition adds up to."""

    department: str
    partition: str
    sources: tuple[str, ...]
    records: int
    rejected: int
    amount: Decimal
    first_day: date | None
    last_day: date | None
    by_category: tuple[Total, ...]
    by_day: tuple[Total, ...]
    quarantined: tuple[str, ...] = ()  # "<file>: <reason>" for each snapshot set aside


def _totals(groups: dict[str, list[Record]]) -> tuple[Total, ...]:
    return tuple(
        Total(
            group=name,
            records=len(records),
            quantity=sum(r.quantity for r in records),
            amount=sum((r.amount for r in records), Decimal(0)).quantize(CENT),
        )
        for name, records in sorted(groups.items())
    )


def summarise(
    department: str,
    partition: str,
    batches: Sequence[ProcessedBatch],
    quarantined: Sequence[str] = (),
) -> Summary:
    """Totals over all batches; a record id seen in two sources counts once."""
    records = deduplicate(r for batch in batches for r in batch.records)
    by_category: dict[str, list[Record]] = defaultdict(list)
    by_day: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_category[record.category].append(record)
        by_day[record.occurred_on.isoformat()].append(record)
    return Summary(
        department=department,
        partition=partition,
        sources=tuple(sorted(batch.source for batch in batches)),
        records=len(records),
        rejected=sum(len(batch.rejected) for batch in batches),
        amount=sum((r.amount for r in records), Decimal(0)).quantize(CENT),
        first_day=min((r.occurred_on for r in records), default=None),
        last_day=max((r.occurred_on for r in records), default=None),
        by_category=_totals(by_category),
        by_day=_totals(by_day),
        quarantined=tuple(sorted(quarantined)),
    )


def _total_json(total: Total) -> dict[str, object]:
    return {
        "group": total.group,
        "records": total.records,
        "quantity": total.quantity,
        "amount": str(total.amount),
    }


def summary_to_json(summary: Summary) -> bytes:
    """Stable JSON: an unchanged summary always gives the same bytes."""
    document = {
        "department": summary.department,
        "partition": summary.partition,
        "sources": list(summary.sources),
        "records": summary.records,
        "rejected": summary.rejected,
        "amount": str(summary.amount),
        "first_day": summary.first_day.isoformat() if summary.first_day else None,
        "last_day": summary.last_day.isoformat() if summary.last_day else None,
        "by_category": [_total_json(t) for t in summary.by_category],
        "by_day": [_total_json(t) for t in summary.by_day],
        "quarantined": list(summary.quarantined),
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def _total_from_json(document: dict[str, Any]) -> Total:
    return Total(
        group=document["group"],
        records=int(document["records"]),
        quantity=int(document["quantity"]),
        amount=Decimal(document["amount"]),
    )


def summary_from_json(data: bytes) -> Summary:
    """Inverse of `summary_to_json`."""
    document: dict[str, Any] = json.loads(data)
    first, last = document["first_day"], document["last_day"]
    return Summary(
        department=document["department"],
        partition=document["partition"],
        sources=tuple(document["sources"]),
        records=int(document["records"]),
        rejected=int(document["rejected"]),
        amount=Decimal(document["amount"]),
        first_day=date.fromisoformat(first) if first else None,
        last_day=date.fromisoformat(last) if last else None,
        by_category=tuple(_total_from_json(t) for t in document["by_category"]),
        by_day=tuple(_total_from_json(t) for t in document["by_day"]),
        quarantined=tuple(document.get("quarantined", [])),
    )


def category_rows(summary: Summary) -> list[dict[str, str | int]]:
    """One row per category, for a table (amounts as strings to keep the cents exact)."""
    return [
        {
            "category": t.group,
            "records": t.records,
            "quantity": t.quantity,
            "amount": str(t.amount),
        }
        for t in summary.by_category
    ]


def render_markdown(summary: Summary) -> str:
    """A short human-readable report of the summary."""
    period = (
        f"{summary.first_day.isoformat()} to {summary.last_day.isoformat()}"
        if summary.first_day and summary.last_day
        else "no dated records"
    )
    lines = [
        f"# {summary.department}: partition {summary.partition}",
        "",
        f"- **Records:** {summary.records} ({summary.rejected} rejected)",
        f"- **Total amount:** {summary.amount}",
        f"- **Period:** {period}",
        f"- **Sources:** {', '.join(summary.sources) or 'none'}",
        "",
        "| Category | Records | Quantity | Amount |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {t.group} | {t.records} | {t.quantity} | {t.amount} |" for t in summary.by_category
    ]
    if summary.quarantined:
        lines += ["", "## Quarantined (not in the totals)", ""]
        lines += [f"- {entry}" for entry in summary.quarantined]
    return "\n".join(lines) + "\n"
