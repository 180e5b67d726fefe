"""Run a department's pipeline in this process, without a server or a worker:

    python -m <package>.flows.<department>.pipeline [--partition P] [--source S ...] [--refresh]

(`make run-local DEPARTMENT=...` does the same.) Prefect starts a temporary server for
the run and stops it afterwards (ephemeral mode), whatever PREFECT_API_URL says: the
run is not kept in any history, and there are no blocks, so outputs go to the local
store. `make run` is the way through the server, a deployment and a worker.
"""

from __future__ import annotations

import argparse
from typing import Any, cast

from prefect import Flow
from prefect.client.schemas.objects import State
from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_KEY,
    PREFECT_API_URL,
    get_current_settings,
)
from prefect.settings.context import temporary_settings

from .core import layout
from .ops.checks import OpsError, load_settings, run_main

NO_SERVER = {PREFECT_API_URL, PREFECT_API_KEY, PREFECT_API_AUTH_STRING}


def run_pipeline(pipeline: Flow[..., Any], department: str, argv: list[str]) -> int:
    prog = f"python -m {__package__}.flows.{department}.pipeline"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--partition", help="the batch label (default: today's UTC date)")
    parser.add_argument("--source", action="append", help="a path or http(s) URL; repeatable")
    parser.add_argument("--refresh", action="store_true", help="redo work already done")
    args = parser.parse_args(argv)
    try:
        partition = layout.resolve_partition(args.partition)
    except ValueError as exc:
        raise OpsError(str(exc)) from None
    settings = load_settings()
    if settings.storage.backend != "local":
        raise OpsError(
            "a direct run has no server, so no storage block: set PIPELINE_STORAGE__BACKEND=local "
            "(outputs under PIPELINE_STORAGE__ROOT), or use `make run`"
        )
    print(f"Running {pipeline.name} on partition {partition}, in this process ...")
    with temporary_settings(restore_defaults=NO_SERVER):  # a temporary server, then none
        parameters = {"partition": partition, "sources": args.source, "refresh": args.refresh}
        try:
            state = cast("State[Any]", pipeline(**parameters, return_state=True))
        except RuntimeError as exc:  # Prefect's own words for a server that did not start
            if "ephemeral Prefect API server" not in str(exc):
                raise
            waited = get_current_settings().server.ephemeral.startup_timeout_seconds
            raise OpsError(
                f"the temporary Prefect server did not start within {waited}s: raise "
                "startup_timeout_seconds under [server.ephemeral] in prefect.toml, or run "
                "through a server (`make up`, `make deploy`, `make run`)"
            ) from None
    if not state.is_completed():
        raise OpsError(f"{pipeline.name} ended {state.name}: {state.message}")
    root = settings.storage.root.resolve()
    report = root / layout.report_keys(department, partition)[1]
    print(f"Completed: outputs under {root}\nReport: {report}")
    return 0


def main(pipeline: Flow[..., Any], department: str) -> None:
    """The `__main__` of each department's pipeline module."""
    run_main(lambda argv: run_pipeline(pipeline, department, argv))
