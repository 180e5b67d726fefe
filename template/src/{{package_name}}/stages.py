"""The three stages every department runs, written once.

Each department's flows (`flows/<department>/`) are thin: they name the flow,
choose its sources and call one of these functions inside the flow. A stage reads
the settings when it runs and fans its tasks out on a task runner built from them.
What it did is logged in lines that start with `<department>/<partition>: `: per
task, how many units ran and how many were already done, then what it made and where
(`make run` prints these lines under each stage).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

from prefect import Task, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import wait
from prefect.task_runners import TaskRunner

from .core import layout
from .core.sources import source_name
from .core.summary import Summary, category_rows, summary_from_json
from .object_store import open_store
from .settings import get_settings
from .task_runners import compute_task_runner, io_task_runner
from .tasks import (
    Result,
    UnitsFailedError,
    fetch_options,
    process_snapshot,
    processing_options,
    snapshot_source,
    summarise_partition,
    write_manifest,
)

# One line per task of a stage: "<department>/<partition>: <task>: <n> run, <n> already done".
UNITS_LOG = "%s/%s: %s: %d run, %d already done"


@dataclass(frozen=True)
class IngestionReport:
    department: str
    partition: str
    snapshots: tuple[str, ...]


@dataclass(frozen=True)
class ProcessingReport:
    department: str
    partition: str
    batches: tuple[str, ...]
    records: int
    rejected: int
    quarantined: tuple[str, ...]  # snapshots that were not records, moved aside


@dataclass(frozen=True)
class AnalysisReport:
    department: str
    partition: str
    summary: Summary
    locations: dict[str, str]


def _fan_out(
    runner: TaskRunner[Any], task: Task[..., Result], item: str, items: list[str],
    department: str, partition: str, refresh: bool,
) -> list[Result]:  # fmt: skip
    """Run `task` once per item, concurrently, and log how many units were already done.

    Every unit runs to its end, retries included, before a failure is raised: one bad
    input cancels none of the others, so their outputs are kept for the rerun. A single
    failure is raised as it is; several as one UnitsFailedError that names each.
    """
    parameters = {
        "department": unmapped(department),
        "partition": unmapped(partition),
        item: items,
        "refresh": unmapped(refresh),
    }
    with runner:
        futures = runner.map(cast(Any, task), parameters)
        wait(futures)
        outcomes = [future.result(raise_on_failure=False) for future in futures]
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if errors:
        raise errors[0] if len(errors) == 1 else UnitsFailedError(task.name, len(outcomes), errors)
    log_units(task, outcomes, department, partition)
    return outcomes


def log_units(
    task: Task[..., Result], results: list[Result], department: str, partition: str
) -> None:
    reused = sum(result["reused"] for result in results)
    ran = len(results) - reused
    get_run_logger().info(UNITS_LOG, department, partition, task.name, ran, reused)


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
    settings = get_settings()
    task = snapshot_source.with_options(**fetch_options(settings))
    results = _fan_out(
        io_task_runner(settings), task, "source", sources, department, partition, refresh
    )
    get_run_logger().info("%s/%s: %d source(s) snapshotted", department, partition, len(results))
    return IngestionReport(department, partition, tuple(r["key"] for r in results))


def process(
    department: str,
    partition: str | None,
    raw_keys: list[str] | None = None,
    *,
    refresh: bool = False,
) -> ProcessingReport:
    """Validate and clean the given raw snapshots (default: every one of the partition)."""
    partition = layout.resolve_partition(partition)
    settings = get_settings()
    if raw_keys is None:
        raw_keys = open_store(settings).list(layout.raw_prefix(department, partition))
    if not raw_keys:
        raise ValueError(
            f"{department}/{partition}: no raw snapshots; run the ingestion first: "
            f"make run DEPARTMENT={department} FLOW=ingestion PARTITION={partition}"
        )
    task = process_snapshot.with_options(**processing_options(settings))
    results = _fan_out(
        compute_task_runner(settings), task, "raw_key", raw_keys, department, partition, refresh
    )
    report = ProcessingReport(
        department,
        partition,
        batches=tuple(r["key"] for r in results if r["key"]),
        records=sum(r["records"] for r in results),
        rejected=sum(r["rejected"] for r in results),
        quarantined=tuple(r["quarantined"] for r in results if not r["key"]),
    )
    logger = get_run_logger()
    logger.info(
        "%s/%s: %d record(s) kept, %d rejected", department, partition, report.records,
        report.rejected,
    )  # fmt: skip
    for result in results:
        if not result["key"]:
            logger.warning(
                "%s/%s: quarantined %s: %s", department, partition, result["quarantined"],
                result["reason"],
            )  # fmt: skip
    return report


def analyse(
    department: str,
    partition: str | None,
    processed_keys: list[str] | None = None,
    quarantined: list[str] | None = None,
    *,
    refresh: bool = False,
) -> AnalysisReport:
    """Summarise the given processed batches and report the quarantined snapshots
    (default: every one of the partition), write the reports and the manifest,
    publish artifacts."""
    partition = layout.resolve_partition(partition)
    settings = get_settings()
    store = open_store(settings)
    if processed_keys is None:
        processed_keys = store.list(layout.processed_prefix(department, partition))
    if quarantined is None:
        listed = store.list(layout.quarantine_prefix(department, partition))
        quarantined = [key for key in listed if not key.endswith(".reason.txt")]
    if not processed_keys:
        raise ValueError(
            f"{department}/{partition}: no processed batches; run the processing first: "
            f"make run DEPARTMENT={department} FLOW=processing PARTITION={partition}"
        )
    options = processing_options(settings)
    reports = summarise_partition.with_options(**options)(
        department, partition, processed_keys, quarantined, refresh
    )
    objects = [
        *store.list(layout.raw_prefix(department, partition)),
        *processed_keys,
        reports["summary"],
        reports["report"],
    ]
    manifest = write_manifest.with_options(**options)(department, partition, objects, refresh)
    log_units(summarise_partition, [reports], department, partition)
    log_units(write_manifest, [manifest], department, partition)
    summary = summary_from_json(store.read(reports["summary"]))
    locations = {
        "raw snapshots": store.location(layout.raw_prefix(department, partition)),
        "processed batches": store.location(layout.processed_prefix(department, partition)),
        "summary": store.location(reports["summary"]),
        "report": store.location(reports["report"]),
        "manifest": store.location(manifest["key"]),
    }
    publish_artifacts(summary, store.read(reports["report"]).decode(), locations)
    logger = get_run_logger()
    logger.info(
        "%s/%s: %d record(s), total %s", department, partition, summary.records, summary.amount
    )
    for what, location in locations.items():
        logger.info("%s/%s: %s at %s", department, partition, what, location)
    return AnalysisReport(department, partition, summary, locations)


def publish_artifacts(summary: Summary, report: str, locations: dict[str, str]) -> None:
    """The Markdown report and a per-category table, readable in the Prefect UI."""
    where = "\n".join(f"- {name}: `{location}`" for name, location in locations.items())
    create_markdown_artifact(
        key=artifact_key(summary.department, "report"),
        markdown=f"{report}\n## Outputs\n\n{where}\n",
        description=f"{summary.department} report for partition {summary.partition}",
    )
    create_table_artifact(
        key=artifact_key(summary.department, "categories"),
        table=category_rows(summary),
        description=f"{summary.department} totals per category, partition {summary.partition}",
    )
