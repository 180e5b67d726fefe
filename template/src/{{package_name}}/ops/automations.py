"""The automation `make deploy` keeps on the server: unresponsive runs end Crashed.

A pipeline's stages run as child flow runs in the pipeline's process. When that
process dies with its machine or container, the worker marks the pipeline Crashed,
but nothing is left to end its children: they would stay Running for good. Every
flow run sends a heartbeat each HEARTBEAT_SECONDS (`heartbeat_frequency` in
prefect.toml, PREFECT_FLOWS_HEARTBEAT_FREQUENCY in the image); when MISSED_HEARTBEATS
in a row are missing, this automation marks the run Crashed. It covers this project's
flows only (by name), so other projects on the same server keep their own rules.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from .. import block_names, flows

HEARTBEAT_SECONDS = 30
MISSED_HEARTBEATS = 3
UNRESPONSIVE_RUNS = f"{block_names.PREFIX}-crash-unresponsive-runs"


def project_flow_names() -> list[str]:
    """`<department>-<stage>`: the name of every flow of the project."""
    return sorted(f"{dept}-{stage}" for dept in flows.departments() for stage in flows.STAGES)


def unresponsive_runs(flow_names: list[str]) -> AutomationCore:
    return AutomationCore(
        name=UNRESPONSIVE_RUNS,
        description=(
            f"A run of {block_names.PREFIX} that sends no heartbeat for "
            f"{HEARTBEAT_SECONDS * MISSED_HEARTBEATS}s is marked Crashed (make deploy)."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},  # a heartbeat or any state change
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": flow_names}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=HEARTBEAT_SECONDS * MISSED_HEARTBEATS),
        ),
        actions=[
            ChangeFlowRunState(
                name=None,  # the state type's own name
                force=False,  # a run that ended meanwhile keeps its state
                state=StateType.CRASHED,
                message=(
                    f"No heartbeat for {HEARTBEAT_SECONDS * MISSED_HEARTBEATS}s: the process "
                    "running this flow run is gone."
                ),
            )
        ],
    )


def essence(automation: AutomationCore) -> dict[str, Any]:
    """What defines an automation, without the ids the server gives it."""
    fields = set(AutomationCore.model_fields)
    dumped: dict[str, Any] = automation.model_dump(mode="json", include=fields)
    dumped["trigger"].pop("id", None)
    return dumped


def ensure(client: SyncPrefectClient, wanted: AutomationCore) -> str:
    """Create or update the automation named like `wanted`; say which ("" if unchanged)."""
    existing = client.read_automations_by_name(wanted.name)
    if not existing:
        client.create_automation(wanted)
        return "created"
    if essence(AutomationCore.model_validate(existing[0].model_dump())) == essence(wanted):
        return ""
    client.update_automation(existing[0].id, wanted)
    return "updated"
