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
# Where the project image's containers mount the outputs volume (its ./data).
VOLUME_MOUNT = "/app/data"


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


def output_keys(department: str, partition: str) -> dict[str, str]:
    summary, report = layout.report_keys(department, partition)
    return {
        "raw snapshots": layout.raw_prefix(department, partition),
        "processed batches": layout.processed_prefix(department, partition),
        "summary": summary,
        "report": report,
        "manifest": layout.manifest_key(department, partition),
    }


def run_image(run: FlowRun) -> str | None:
    """The image a containerised run started from, if its deployment names one."""
    if run.deployment_id is None:
        return None
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(run.deployment_id)
    image = {**(deployment.job_variables or {}), **(run.job_variables or {})}.get("image")
    return str(image) if image else None


def print_outputs(keys: dict[str, str], run: FlowRun, volume: str | None) -> None:
    """Where the outputs are: paths or URLs, or keys inside the containers' volume."""
    if volume is None:
        store = object_store()
        print("Outputs:")
        for what, key in keys.items():
            print(f"  {what:<18} {store.location(key)}")
        return
    # The flow ran in a container: its outputs are in a docker volume, not on this disk.
    print(f"Outputs, in docker volume {volume} (at {VOLUME_MOUNT} in the containers):")
    for what, key in keys.items():
        print(f"  {what:<18} {VOLUME_MOUNT}/{key}")
    report = f"{VOLUME_MOUNT}/{keys['report']}"
    image = run_image(run)
    if image:
        mount = f"{volume}:{VOLUME_MOUNT}:ro"
        print(f"Read the report: docker run --rm -v {mount} {image} cat {report}")
    else:
        print(f"Copy the report here: docker compose cp worker:{report} .")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run", description=__doc__)
    parser.add_argument("--department", required=True)
    parser.add_argument("--flow", choices=STAGES, default="pipeline")
    parser.add_argument("--partition", default=None, help="default: today's UTC date")
    parser.add_argument("--refresh", action="store_true", help="redo work already done")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait")
    parser.add_argument("--volume", help="the docker volume holding the outputs, if any")
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
    print_outputs(output_keys(args.department, partition), run, args.volume)
    return 0


if __name__ == "__main__":
    run_main(main)
