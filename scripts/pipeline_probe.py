"""Time a rendered project's department pipeline; run by that project's own Python.

    python pipeline_probe.py PACKAGE DEPARTMENT pipeline REPEAT
        the demo pipeline on a fresh partition each time
    python pipeline_probe.py - - subflows REPEAT [no-heartbeats]
        a flow that calls three trivial subflows (four flow runs, as a pipeline run);
        with `no-heartbeats`, Prefect's flow-run heartbeat thread is replaced by nothing
        (prefect 3.8 has no setting that turns heartbeats off: 180 s by default)
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


def subflows(repeat: int, heartbeats: bool) -> list[float]:
    """Seconds per run of a flow with three subflows that do nothing."""
    from prefect import flow

    if not heartbeats:  # measurement only: what the heartbeat thread costs each flow run
        import contextlib

        from prefect import flow_engine

        flow_engine._send_heartbeats = lambda *_, **__: contextlib.nullcontext()

    @flow
    def stage() -> None:
        return None

    @flow
    def outer() -> None:
        for _ in range(3):
            stage()

    return [timed(outer) for _ in range(repeat)]


def main(package: str, department: str, mode: str, repeat: str, *sizes: str) -> None:
    if mode == "subflows":
        print(json.dumps({"flow": subflows(int(repeat), heartbeats="no-heartbeats" not in sizes)}))
        return
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

    import os

    from distributed import LocalCluster

    steps = importlib.import_module(f"{package}.core.steps")
    settings_module = importlib.import_module(f"{package}.settings")
    object_store = importlib.import_module(f"{package}.object_store")
    ingestion: Any = importlib.import_module(f"{flows.__name__}.ingestion")
    schema = importlib.import_module(f"{flows.__name__}.data").SCHEMA
    processing: Any = importlib.import_module(f"{flows.__name__}.processing")

    count, rows = int(sizes[0]), int(sizes[1])
    folder = Path(tempfile.mkdtemp(prefix="sources-"))
    sources = synthetic_sources(Path(flows.__file__).parent / "demo_data", folder, count, rows)
    results["tasks"] = count

    def processing_on(**settings: str) -> float:
        """The processing flow, with its task runner chosen by the settings it reads."""
        os.environ.update(settings)
        label = partition()
        ingestion.ingestion(partition=label, sources=sources)
        return timed(lambda: processing.processing(partition=label))

    def plain_loop() -> None:
        """The same units of work, called one after another without Prefect."""
        label = partition()
        store = object_store.open_store(settings_module.get_settings())
        raw = [steps.snapshot(store, steps.snapshot_step(department, label, source),
                              timeout=30, deadline=120)["key"] for source in sources]  # fmt: skip
        batches = [steps.process(store, steps.process_step(department, label, key, schema))["key"]
                   for key in raw]  # fmt: skip
        reports = steps.summarise_partition(store, steps.summarise_step(department, label, batches))
        keys = [*raw, *batches, reports["summary"], reports["report"]]
        steps.write_manifest(store, steps.manifest_step(department, label, keys))

    runs = range(int(repeat))
    results["processing: threads"] = [
        processing_on(
            PIPELINE_COMPUTE__RUNNER="threads", PIPELINE_FETCH__MAX_CONCURRENCY=str(count)
        )
        for _ in runs
    ]
    dask = {"PIPELINE_COMPUTE__RUNNER": "dask", "PIPELINE_COMPUTE__DASK_WORKERS": "2"}
    results["processing: dask, cluster per run"] = [processing_on(**dask) for _ in runs]
    cluster = {"n_workers": 2, "threads_per_worker": 1, "processes": True,
               "dashboard_address": None}  # fmt: skip
    with LocalCluster(**cluster) as existing:  # type: ignore[no-untyped-call]
        results["processing: dask, existing cluster"] = [
            processing_on(**dask, PIPELINE_COMPUTE__DASK_ADDRESS=existing.scheduler_address)
            for _ in runs
        ]
    os.environ.update(PIPELINE_COMPUTE__RUNNER="threads")
    results["pipeline (Prefect, threads)"] = [
        timed(lambda: pipeline.pipeline(partition=partition(), sources=sources)) for _ in runs
    ]
    results["plain loop, same functions"] = [timed(plain_loop) for _ in runs]
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
