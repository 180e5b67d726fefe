"""The pipeline's units of work, without Prefect.

For each unit, `<name>_step(...)` says what it reads and writes (a `resume.Step`),
and `<name>(store, step, ...)` does the work and returns a small JSON-able result.
tasks.py runs them through `resume.run_step`, so finished work is never redone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import layout
from .manifest import build_manifest, describe
from .parsers import read_records
from .records import Schema, SchemaError
from .resume import Step
from .sources import fetch_source, is_url, source_name
from .storage import ObjectStore, sha256_hex
from .summary import render_markdown, summarise, summary_to_json
from .transform import batch_from_json, batch_to_json, clean


def snapshot_step(department: str, partition: str, source: str) -> Step:
    """A local source file is read again when it changes; a URL once per partition."""
    version = None
    if not is_url(source):
        path = Path(source.removeprefix("file://"))
        stat = path.stat() if path.is_file() else None
        version = f"{stat.st_size}-{stat.st_mtime_ns}" if stat else None
    return Step(
        name="snapshot",
        reads=(),
        writes=(layout.raw_key(department, partition, source_name(source)),),
        params={"source": source, "version": version},
    )


def snapshot(
    store: ObjectStore,
    step: Step,
    *,
    timeout: float,
    deadline: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Fetch the source and store its bytes as the raw snapshot."""
    data = fetch_source(step.params["source"], timeout=timeout, deadline=deadline, headers=headers)
    (key,) = step.writes
    store.write(key, data)
    return {"key": key, "sha256": sha256_hex(data), "size": len(data)}


def process_step(department: str, partition: str, raw_key: str, schema: Schema) -> Step:
    """The schema is a parameter: a department that changes it gets its batches redone."""
    return Step(
        name="process",
        reads=(raw_key,),
        writes=(layout.processed_key(department, partition, raw_key),),
        params={"department": department, "partition": partition, "schema": schema.to_params()},
    )


def process(store: ObjectStore, step: Step) -> dict[str, Any]:
    """Validate and clean one raw snapshot into a processed batch; a snapshot that is not
    records at all (not UTF-8, not JSON, columns missing) is quarantined instead."""
    (raw_key,) = step.reads
    data = store.read(raw_key)
    try:
        parsed = read_records(data, Schema.from_params(step.params["schema"]))
    except SchemaError as exc:
        return quarantine(store, step, data, str(exc))
    batch = clean(parsed, source=raw_key.rsplit("/", 1)[-1], raw_sha256=sha256_hex(data))
    (key,) = step.writes
    store.write(key, batch_to_json(batch))
    return {"key": key, "records": len(batch.records), "rejected": len(batch.rejected)}


def quarantine(store: ObjectStore, step: Step, data: bytes, reason: str) -> dict[str, Any]:
    """Move the snapshot aside with its reason: the rest of the partition goes on, and a
    rerun fetches the source again instead of tripping over the same bytes."""
    (raw_key,) = step.reads
    key = layout.quarantine_key(step.params["department"], step.params["partition"], raw_key)
    store.write(key, data)
    store.write(f"{key}.reason.txt", f"{reason}\n".encode())
    store.delete(raw_key)
    return {"key": None, "quarantined": key, "reason": reason, "records": 0, "rejected": 0}


def summarise_step(
    department: str, partition: str, processed_keys: Sequence[str], quarantined: Sequence[str] = ()
) -> Step:
    """`quarantined`: the keys of the partition's quarantined snapshots, to report."""
    reasons = tuple(sorted(f"{key}.reason.txt" for key in quarantined))
    return Step(
        name="summarise",
        reads=(*sorted(processed_keys), *reasons),
        writes=layout.report_keys(department, partition),
        params={"department": department, "partition": partition},
    )


def summarise_partition(store: ObjectStore, step: Step) -> dict[str, Any]:
    """Add up the processed batches; write the summary (JSON) and the report (Markdown)."""
    reasons = [key for key in step.reads if key.endswith(".reason.txt")]
    batches = [batch_from_json(store.read(k)) for k in step.reads if k not in reasons]
    quarantined = tuple(
        f"{key.removesuffix('.reason.txt').rsplit('/', 1)[-1]}: {store.read(key).decode().strip()}"
        for key in reasons
    )
    summary = summarise(step.params["department"], step.params["partition"], batches, quarantined)
    summary_key, report_key = step.writes
    store.write(summary_key, summary_to_json(summary))
    store.write(report_key, render_markdown(summary).encode())
    return {"summary": summary_key, "report": report_key}


def manifest_step(department: str, partition: str, keys: list[str]) -> Step:
    return Step(
        name="manifest",
        reads=tuple(sorted(set(keys))),
        writes=(layout.manifest_key(department, partition),),
        params={"department": department, "partition": partition},
    )


def write_manifest(store: ObjectStore, step: Step) -> dict[str, Any]:
    """Record the SHA-256 of every object of the partition."""
    entries = describe(store, step.reads)
    (key,) = step.writes
    store.write(key, build_manifest(step.params["department"], step.params["partition"], entries))
    return {"key": key, "objects": len(entries)}
