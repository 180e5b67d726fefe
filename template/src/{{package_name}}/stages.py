"""The three stages every department runs, written once.

Each department's flows (`flows/<department>/`) are thin: they name the flow,
choose its sources and call one of these functions inside the flow.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from prefect import Task, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import NotSet

from .core import layout
from .core.sources import source_name
from .core.storage import StoredObject
from .core.summary import Summary, category_rows, render_markdown
from .runtime import object_store, result_storage
from .tasks import (
    ProcessedObject,
    list_objects,
    process_snapshot,
    process_snapshot_outputs,
    snapshot_source,
    snapshot_source_outputs,
    summarise_partition,
    summarise_partition_outputs,
    write_manifest,
)

R = TypeVar("R")


@dataclass(frozen=True)
class IngestionReport:
    department: str
    partition: str
    snapshots: tuple[StoredObject, ...]


@dataclass(frozen=True)
class ProcessingReport:
    department: str
    partition: str
    batches: tuple[ProcessedObject, ...]

    @property
    def records(self) -> int:
        return sum(batch.records for batch in self.batches)

    @property
    def rejected(self) -> int:
        return sum(batch.rejected for batch in self.batches)


@dataclass(frozen=True)
class AnalysisReport:
    department: str
    partition: str
    summary: Summary
    outputs: tuple[StoredObject, ...]
    manifest: StoredObject
    locations: dict[str, str]


def _run_each(
    task: Task[..., R],
    outputs: Callable[[str, str, str], list[str]],
    department: str,
    partition: str,
    items: list[str],
    *,
    refresh: bool,
) -> list[R]:
    """Run `task(department, partition, item)` for every item, concurrently.

    Items whose outputs are all stored may come from the cache; the others run
    with `refresh_cache`, which executes them and replaces their cache record.
    """
    store = object_store()
    storage = result_storage()  # resolved at run time, from this process's settings
    missing = {
        item
        for item in items
        if refresh or not all(store.exists(key) for key in outputs(department, partition, item))
    }
    futures: dict[str, PrefectFuture[R]] = {}
    for group, overwrite in (
        ([i for i in items if i in missing], True),
        ([i for i in items if i not in missing], NotSet),
    ):
        if group:
            configured = task.with_options(result_storage=storage, refresh_cache=overwrite)
            mapped = configured.map(unmapped(department), unmapped(partition), group)
            futures.update(zip(group, mapped, strict=True))
    results = [futures[item].result() for item in items]
    cached = sum(future.state.name == "Cached" for future in futures.values())
    get_run_logger().info(
        "%s: %d run, %d reused from the cache", task.name, len(items) - cached, cached
    )
    return results


def artifact_key(department: str, suffix: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{department}-{suffix}".lower())


def ingest(
    department: str, partition: str | None, sources: list[str], *, refresh: bool = False
) -> IngestionReport:
    """Fetch every source concurrently and keep a raw snapshot of each."""
    partition = layout.resolve_partition(partition)
    if not sources:
        raise ValueError(f"{department}: no sources to ingest")
    clashes = [name for name, n in Counter(map(source_name, sources)).items() if n > 1]
    if clashes:
        raise ValueError(f"{department}: several sources share the file name(s) {clashes}")
    snapshots = tuple(
        _run_each(
            snapshot_source,
            snapshot_source_outputs,
            department,
            partition,
            sources,
            refresh=refresh,
        )
    )
    get_run_logger().info("%s/%s: %d source(s) snapshotted", department, partition, len(snapshots))
    return IngestionReport(department=department, partition=partition, snapshots=snapshots)


def process(department: str, partition: str | None, *, refresh: bool = False) -> ProcessingReport:
    """Validate and clean every raw snapshot of the partition."""
    partition = layout.resolve_partition(partition)
    raw_keys = list_objects(layout.raw_prefix(department, partition))
    if not raw_keys:
        raise ValueError(f"{department}/{partition}: no raw snapshots; run the ingestion first")
    batches = _run_each(
        process_snapshot, process_snapshot_outputs, department, partition, raw_keys, refresh=refresh
    )
    report = ProcessingReport(department=department, partition=partition, batches=tuple(batches))
    get_run_logger().info(
        "%s/%s: %d record(s) kept, %d rejected",
        department,
        partition,
        report.records,
        report.rejected,
    )
    return report


def analyse(department: str, partition: str | None, *, refresh: bool = False) -> AnalysisReport:
    """Summarise the partition, write its reports and manifest, publish artifacts."""
    partition = layout.resolve_partition(partition)
    processed_keys = list_objects(layout.processed_prefix(department, partition))
    if not processed_keys:
        raise ValueError(
            f"{department}/{partition}: no processed batches; run the processing first"
        )
    store = object_store()
    stale = refresh or not all(
        store.exists(key) for key in summarise_partition_outputs(department, partition)
    )
    reports = summarise_partition.with_options(
        result_storage=result_storage(), refresh_cache=True if stale else NotSet
    )(department, partition, processed_keys)
    manifest = write_manifest(department, partition)
    locations = {
        "summary": store.location(reports.json.key),
        "report": store.location(reports.markdown.key),
        "manifest": store.location(manifest.key),
    }
    publish_artifacts(reports.summary, locations)
    get_run_logger().info(
        "%s/%s: %d record(s), total %s; report at %s",
        department,
        partition,
        reports.summary.records,
        reports.summary.amount,
        locations["report"],
    )
    return AnalysisReport(
        department=department,
        partition=partition,
        summary=reports.summary,
        outputs=(reports.json, reports.markdown),
        manifest=manifest,
        locations=locations,
    )


def publish_artifacts(summary: Summary, locations: dict[str, str]) -> None:
    """A Markdown report and a per-category table, readable in the Prefect UI."""
    where = "\n".join(f"- {name}: `{location}`" for name, location in locations.items())
    create_markdown_artifact(
        key=artifact_key(summary.department, "report"),
        markdown=f"{render_markdown(summary)}\n## Outputs\n\n{where}\n",
        description=f"{summary.department} report for partition {summary.partition}",
    )
    create_table_artifact(
        key=artifact_key(summary.department, "categories"),
        table=category_rows(summary),
        description=f"{summary.department} totals per category, partition {summary.partition}",
    )
