"""The schedule question: pipelines are deployed with their schedule switched off; the
documented switch turns it on and the server then creates runs; the next `make deploy`
switches it off again, since prefect.yaml says so."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import yaml

from project import api_time, free_port, git_commit_all, set_api_port
from services import wait_for

PIPELINE = "sales-pipeline/sales-pipeline"


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"schedule": "cron", "schedule_cron": "30 2 * * 1-5"},
         {"cron": "30 2 * * 1-5", "timezone": "UTC", "active": False}),
        ({"schedule": "interval", "schedule_interval": 900}, {"interval": 900, "active": False}),
        ({"schedule": "none"}, None),
    ],
    ids=["cron", "interval", "none"],
)  # fmt: skip
def test_only_pipelines_get_the_schedule_switched_off(render_project, answers, expected) -> None:
    project: Path = render_project(**answers)
    deployments = yaml.safe_load((project / "prefect.yaml").read_text())["deployments"]
    schedules = {d["name"]: d.get("schedules") for d in deployments}
    assert schedules.pop("sales-pipeline") == ([expected] if expected else None)
    assert set(schedules.values()) == {None}


@pytest.mark.parametrize(
    "cron",
    ["*/15 0-23/2 1,15 JAN-jun mon-fri", "0 0 L * *", "0 9 * * 1#1", "0 6 ? * *", "0 6 * * 7",
     "@daily", "5-1 * * * *"],
)  # fmt: skip
def test_the_cron_forms_prefect_accepts_are_accepted_as_typed(render_project, cron: str) -> None:
    project: Path = render_project(schedule="cron", schedule_cron=cron)
    deployments = yaml.safe_load((project / "prefect.yaml").read_text())["deployments"]
    (pipeline,) = [d for d in deployments if d["name"] == "sales-pipeline"]
    assert pipeline["schedules"] == [{"cron": cron, "timezone": "UTC", "active": False}]


def scheduled_starts(api: str) -> list[datetime]:
    body = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
    runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    return sorted(api_time(run["expected_start_time"]) for run in runs)


def schedule_of(api: str) -> dict[str, object]:
    deployment = httpx.get(f"{api}/deployments/name/{PIPELINE}", timeout=10).json()
    (schedule,) = deployment["schedules"]
    return schedule


@pytest.mark.slow
@pytest.mark.xdist_group("schedules")
def test_a_schedule_switched_on_makes_the_server_create_runs(
    render_project, make, env: dict[str, str], stopped_afterwards: list[Path]
) -> None:
    project: Path = render_project(schedule="interval", schedule_interval=120)
    git_commit_all(project, "rendered")
    make(project, "install")
    stopped_afterwards.append(project)
    api = set_api_port(project, free_port())
    fast_scheduler = {"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1"}
    make(project, "up", extra_env=fast_scheduler)
    make(project, "deploy")

    assert schedule_of(api)["active"] is False
    time.sleep(5)  # several scheduler loops
    assert scheduled_starts(api) == []

    # The switch docs/deploying.md gives: Prefect's CLI, with the schedule's id.
    prefect = str(project / ".venv" / "bin" / "prefect")
    cli_env = {**env, "PREFECT_API_URL": api}
    schedule_id = str(schedule_of(api)["id"])
    subprocess.run(
        [prefect, "deployment", "schedule", "resume", PIPELINE, schedule_id],
        cwd=project, env=cli_env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    wait_for(lambda: len(scheduled_starts(api)) >= 2, "scheduled runs", 90)
    starts = scheduled_starts(api)
    assert {(later - earlier).total_seconds() for earlier, later in pairwise(starts)} == {120.0}

    # prefect.yaml is what is deployed: the next deploy switches the schedule off again.
    make(project, "deploy")
    assert schedule_of(api)["active"] is False
    wait_for(lambda: scheduled_starts(api) == [], "scheduled runs removed", 60)
