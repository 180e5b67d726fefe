"""`make run`: trigger a department's deployment, wait for it, report every flow run.

Exits 0 only if the run ends COMPLETED, so scripts and CI can rely on it.
"""

from __future__ import annotations

import argparse
import pkgutil

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from .. import flows
from ..core import layout
from ..runtime import object_store
from ._cli import OpsError, require_api, run_main

STAGES = ("pipeline", "ingestion", "processing", "analysis")


def run_table(parent: FlowRun) -> list[tuple[str, str, str]]:
    """(flow, flow run, final state) for the run and its subflow runs, in start order."""
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
        runs = [parent, *sorted(children, key=lambda r: str(r.start_time or r.expected_start_time))]
        flows = {flow_id: client.read_flow(flow_id).name for flow_id in {r.flow_id for r in runs}}
    return [(flows[r.flow_id], r.name, str(r.state.name) if r.state else "unknown") for r in runs]


def output_locations(department: str, partition: str) -> dict[str, str]:
    store = object_store()
    summary, report = layout.report_keys(department, partition)
    return {
        "raw snapshots": store.location(layout.raw_prefix(department, partition)),
        "processed batches": store.location(layout.processed_prefix(department, partition)),
        "summary": store.location(summary),
        "report": store.location(report),
        "manifest": store.location(layout.manifest_key(department, partition)),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run", description=__doc__)
    parser.add_argument("--department", required=True)
    parser.add_argument("--flow", choices=STAGES, default="pipeline")
    parser.add_argument("--partition", default=None, help="default: today's UTC date")
    parser.add_argument("--refresh", action="store_true", help="redo work already done")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait")
    args = parser.parse_args(argv)

    known = sorted(m.name for m in pkgutil.iter_modules(flows.__path__) if m.ispkg)
    if args.department not in known:
        raise OpsError(f"unknown department {args.department!r}: one of {', '.join(known)}")
    require_api()
    try:
        partition = layout.resolve_partition(args.partition)
    except ValueError as exc:
        raise OpsError(str(exc)) from None
    name = f"{args.department}-{args.flow}/{args.department}-{args.flow}"
    print(f"Running {name} on partition {partition} ...")
    try:
        run = run_deployment(
            name,
            parameters={"partition": partition, "refresh": args.refresh},
            timeout=args.timeout,
            poll_interval=2,
        )
    except ObjectNotFound:
        raise OpsError(f"deployment {name!r} not found: run `make deploy` first") from None
    if not isinstance(run, FlowRun):  # only when called from async code
        raise OpsError("run_deployment returned no flow run")
    state = run.state
    if state is None or not state.is_final():
        raise OpsError(
            f"{name} is still {state.name if state else 'unscheduled'} after {args.timeout:g}s: "
            "is a worker polling its work pool? (`make status`)"
        )
    for flow_name, run_name, final in run_table(run):
        print(f"  {flow_name:<32} {run_name:<28} {final}")
    if not state.is_completed():
        raise OpsError(f"{name} ended {state.name}: {state.message or 'see the flow run logs'}")
    print("Outputs:")
    for what, where in output_locations(args.department, partition).items():
        print(f"  {what:<18} {where}")
    return 0


if __name__ == "__main__":
    run_main(main)
