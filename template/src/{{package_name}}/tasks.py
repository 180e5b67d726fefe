"""Prefect tasks: thin wrappers that add retries and caching to the core logic.

Each task that writes an object has a cache key over its parameters and the
fingerprints of the objects it reads, and an `*_outputs` function naming what it
writes. The stages run a task with `refresh_cache` whenever one of its outputs is
missing, so a rerun after a crash skips finished work, and deleting one output
redoes exactly the task that wrote it.

Timeouts are enforced inside the I/O itself (per request and per whole download):
a task running in a worker thread cannot be interrupted from outside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect import Task, task
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff
from prefect.utilities.hashing import hash_objects

from .core import layout
from .core.manifest import build_manifest, describe
from .core.records import SchemaError, parse_csv
from .core.sources import SourceError, fetch_source, source_name
from .core.storage import StoredObject, sha256_hex, write_once
from .core.summary import Summary, render_markdown, summarise, summary_to_json
from .core.transform import batch_from_json, batch_to_json, clean
from .runtime import object_store
from .settings import get_settings

_fetch = get_settings().fetch


def cache_key_over(
    inputs: Callable[[dict[str, Any]], list[str]] = lambda _: [],
) -> Callable[[TaskRunContext, dict[str, Any]], str | None]:
    """A cache key over the task's code, its parameters and the objects it reads.

    A changed input object (a re-fetched snapshot) changes the key, so the work
    that depends on it runs again.
    """

    def cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
        store = object_store()
        fingerprints = [store.fingerprint(key) for key in inputs(parameters)]
        return hash_objects(context.task.task_key, parameters, fingerprints)

    return cache_key


def retry_unless_permanent(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry passing faults; give up at once on ones a retry cannot fix."""
    try:
        state.result()
    except SourceError as exc:
        return exc.retryable
    except (SchemaError, ValueError):
        return False
    except Exception:  # noqa: BLE001 - anything unexpected gets the benefit of the doubt
        return True
    return False


io_task_options: dict[str, Any] = {
    "retries": _fetch.retries,
    "retry_delay_seconds": exponential_backoff(backoff_factor=_fetch.backoff_seconds),
    "retry_jitter_factor": _fetch.jitter_factor,
    "retry_condition_fn": retry_unless_permanent,
    "persist_result": True,
}


def snapshot_source_outputs(department: str, partition: str, source: str) -> list[str]:
    return [layout.raw_key(department, partition, source_name(source))]


@task(name="snapshot-source", cache_key_fn=cache_key_over(), **io_task_options)
def snapshot_source(department: str, partition: str, source: str) -> StoredObject:
    """Fetch one source and store its bytes as the partition's raw snapshot."""
    token = _fetch.auth_token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else None
    data = fetch_source(
        source,
        timeout=_fetch.timeout_seconds,
        deadline=_fetch.deadline_seconds,
        headers=headers,
    )
    (key,) = snapshot_source_outputs(department, partition, source)
    return write_once(object_store(), key, data)


@task(name="list-objects", **{**io_task_options, "persist_result": False})
def list_objects(prefix: str) -> list[str]:
    """Keys under a prefix."""
    return object_store().list(prefix)


@dataclass(frozen=True)
class ProcessedObject:
    """A processed batch as stored, with its record counts."""

    stored: StoredObject
    records: int
    rejected: int


def process_snapshot_outputs(department: str, partition: str, raw_key: str) -> list[str]:
    return [layout.processed_key(department, partition, raw_key)]


@task(
    name="process-snapshot",
    cache_key_fn=cache_key_over(inputs=lambda p: [p["raw_key"]]),
    **io_task_options,
)
def process_snapshot(department: str, partition: str, raw_key: str) -> ProcessedObject:
    """Validate and clean one raw snapshot into a processed batch."""
    store = object_store()
    data = store.read(raw_key)
    batch = clean(
        parse_csv(data),
        source=raw_key.rsplit("/", 1)[-1],
        raw_sha256=sha256_hex(data),
    )
    (key,) = process_snapshot_outputs(department, partition, raw_key)
    stored = write_once(store, key, batch_to_json(batch))
    return ProcessedObject(stored=stored, records=len(batch.records), rejected=len(batch.rejected))


@dataclass(frozen=True)
class SummaryObjects:
    """The summary and the two report objects written from it."""

    summary: Summary
    json: StoredObject
    markdown: StoredObject


def summarise_partition_outputs(department: str, partition: str) -> list[str]:
    return list(layout.report_keys(department, partition))


@task(
    name="summarise-partition",
    cache_key_fn=cache_key_over(inputs=lambda p: list(p["processed_keys"])),
    **io_task_options,
)
def summarise_partition(
    department: str, partition: str, processed_keys: list[str]
) -> SummaryObjects:
    """Add up every processed batch of the partition and write the reports."""
    store = object_store()
    batches = [batch_from_json(store.read(key)) for key in processed_keys]
    summary = summarise(department, partition, batches)
    json_key, markdown_key = summarise_partition_outputs(department, partition)
    return SummaryObjects(
        summary=summary,
        json=write_once(store, json_key, summary_to_json(summary)),
        markdown=write_once(store, markdown_key, render_markdown(summary).encode()),
    )


@task(name="write-manifest", **{**io_task_options, "persist_result": False})
def write_manifest(department: str, partition: str) -> StoredObject:
    """Record the SHA-256 of every object of the partition."""
    store = object_store()
    keys = [
        *store.list(layout.raw_prefix(department, partition)),
        *store.list(layout.processed_prefix(department, partition)),
        *layout.report_keys(department, partition),
    ]
    manifest = build_manifest(department, partition, describe(store, keys))
    return write_once(store, layout.manifest_key(department, partition), manifest)
