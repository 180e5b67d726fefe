"""Time a rendered project's department pipeline; run by that project's own Python.

    python pipeline_probe.py PACKAGE DEPARTMENT pipeline REPEAT
        the demo pipeline on a fresh partition each time
    python pipeline_probe.py PACKAGE DEPARTMENT fanout REPEAT SOURCES ROWS
        over SOURCES synthetic CSV files of ROWS rows each: the processing stage on
        threads, on a 2-worker Dask LocalCluster started by the run (the default) and on
        an existing 2-worker cluster; the whole pipeline vs a plain loop calling the
        same task functions without Prefect

Prints one JSON object: {figure: [seconds, ...], "tasks": n}. The API comes from the
project's environment (.env); storage from its settings.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def synthetic_sources(demo: Path, folder: Path, count: int, rows: int) -> list[str]:
    """`count` CSV files of `rows` valid rows each, cycled from the demo data."""
    template: list[dict[str, str]] = []
    for path in sorted(demo.glob("*.csv")):
        for row in csv.DictReader(io.StringIO(path.read_text())):
            try:
                float(row["unit_price"]), int(row["quantity"])
            except (TypeError, ValueError):
                continue
            template.append(row)
    fields = list(template[0])
    sources = []
    for index in range(count):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for n in range(rows):
            writer.writerow({**template[n % len(template)], "record_id": f"S{index}-{n}"})
        path = folder / f"source-{index:03d}.csv"
        path.write_text(out.getvalue())
        sources.append(str(path))
    return sources


def main(package: str, department: str, mode: str, repeat: str, *sizes: str) -> None:
    flows = importlib.import_module(f"{package}.flows.{department}")
    pipeline: Any = importlib.import_module(f"{flows.__name__}.pipeline")
    results: dict[str, Any] = {}

    def partition() -> str:
        return f"bench-{uuid.uuid4().hex[:12]}"

    if mode == "pipeline":
        results["pipeline"] = [
            timed(lambda: pipeline.pipeline(partition=partition())) for _ in range(int(repeat))
        ]
        print(json.dumps(results))
        return

    from distributed import LocalCluster
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask.task_runners import DaskTaskRunner

    tasks = importlib.import_module(f"{package}.tasks")
    layout = importlib.import_module(f"{package}.core.layout")
    runtime = importlib.import_module(f"{package}.runtime")
    ingestion: Any = importlib.import_module(f"{flows.__name__}.ingestion")
    processing: Any = importlib.import_module(f"{flows.__name__}.processing")

    count, rows = int(sizes[0]), int(sizes[1])
    folder = Path(tempfile.mkdtemp(prefix="sources-"))
    sources = synthetic_sources(Path(flows.__file__).parent / "demo_data", folder, count, rows)
    results["tasks"] = count

    def processing_on(runner: Any) -> float:
        label = partition()
        ingestion.ingestion(partition=label, sources=sources)
        flow = processing.processing.with_options(task_runner=runner)
        return timed(lambda: flow(partition=label))

    def plain_loop() -> None:
        label = partition()
        for source in sources:
            tasks.snapshot_source.fn(department, label, source)
        for raw_key in runtime.object_store().list(layout.raw_prefix(department, label)):
            tasks.process_snapshot.fn(department, label, raw_key)
        processed = runtime.object_store().list(layout.processed_prefix(department, label))
        tasks.summarise_partition.fn(department, label, processed)
        tasks.write_manifest.fn(department, label)

    runs = range(int(repeat))
    results["processing: threads"] = [processing_on(ThreadPoolTaskRunner(max_workers=count))
                                      for _ in runs]  # fmt: skip
    cluster = {"n_workers": 2, "threads_per_worker": 1, "processes": True,
               "dashboard_address": None}  # fmt: skip
    results["processing: dask, cluster per run"] = [
        processing_on(DaskTaskRunner(cluster_kwargs=cluster)) for _ in runs
    ]
    with LocalCluster(**cluster) as existing:  # type: ignore[no-untyped-call]
        results["processing: dask, existing cluster"] = [
            processing_on(DaskTaskRunner(address=existing.scheduler_address)) for _ in runs
        ]
    results["pipeline (Prefect, threads)"] = [
        timed(lambda: pipeline.pipeline(partition=partition(), sources=sources)) for _ in runs
    ]
    results["plain loop, same functions"] = [timed(plain_loop) for _ in runs]
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
