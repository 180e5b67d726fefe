"""Where each stage's outputs live in the store.

    raw/<department>/<partition>/<source file>         ingestion: the bytes as fetched
    quarantine/<department>/<partition>/<source file>  a snapshot that is not records, and
                                                       <source file>.reason.txt: why
    processed/<department>/<partition>/<source>.json   processing: validated, cleaned records
    reports/<department>/<partition>/summary.json      analysis: totals
    reports/<department>/<partition>/report.md         analysis: the same, for people
    manifests/<department>/<partition>.json            SHA-256 of every object above

A partition is a label for one batch of work, by default the run's UTC date; a rerun
of the same partition reuses whatever that partition already holds.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .storage import join_key

PARTITION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,63}$")


def resolve_partition(partition: str | None, now: datetime | None = None) -> str:
    """The given partition, checked, or today's UTC date."""
    if partition is None or partition == "":
        return (now or datetime.now(timezone.utc)).date().isoformat()
    if not PARTITION_PATTERN.match(partition):
        raise ValueError(
            f"partition {partition!r} must be 1-64 letters, digits, '.', '_', '=' or '-', "
            "starting with a letter or digit"
        )
    return partition


def raw_prefix(department: str, partition: str) -> str:
    return join_key("raw", department, partition)


def raw_key(department: str, partition: str, name: str) -> str:
    return join_key(raw_prefix(department, partition), name)


def quarantine_key(department: str, partition: str, raw: str) -> str:
    """Where a raw snapshot that cannot be read as records is moved: same file name."""
    return join_key("quarantine", department, partition, raw.rsplit("/", 1)[-1])


def quarantine_prefix(department: str, partition: str) -> str:
    return join_key("quarantine", department, partition)


def processed_prefix(department: str, partition: str) -> str:
    return join_key("processed", department, partition)


def processed_key(department: str, partition: str, raw: str) -> str:
    """The processed object for a raw key: same file name plus `.json`."""
    return join_key(processed_prefix(department, partition), raw.rsplit("/", 1)[-1] + ".json")


def report_keys(department: str, partition: str) -> tuple[str, str]:
    """The summary JSON and the Markdown report."""
    base = join_key("reports", department, partition)
    return join_key(base, "summary.json"), join_key(base, "report.md")


def manifest_key(department: str, partition: str) -> str:
    return join_key("manifests", department, f"{partition}.json")
