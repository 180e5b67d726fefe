"""The fault matrix on a real engine: what a self-hosted stack with a docker pool survives.

One stack (render, `make install`, `make up`, `make deploy`) serves every scenario, in
the order below; each scenario's driver is in scripts/faults.py (`make bench` runs the
same drivers and prints their recovery times). For every fault: no run lost (each run
created ends final, COMPLETED where the fault passes), no output duplicated (each
partition holds exactly the files its sources make, once; no stage run twice), no run
left Running, and every failed or crashed run names a reason a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import faults
from engine import Cleanup, answers_of, install
from faults import Outcome, Stack
from project import render
from project import run as run_command

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("engine")]


@pytest.fixture(scope="module")
def stack(docker_engine: None, env: dict[str, str], tmp_path_factory) -> Iterator[Stack]:
    project = render(
        tmp_path_factory.mktemp("faults") / "faults",
        {"project_name": "Engine Faults", "prefect_backend": "self_hosted",
         "work_pool_type": "docker"},
    )  # fmt: skip
    cleanup = Cleanup(env)
    cleanup.stacks.append(project)
    cleanup.images.append(str(answers_of(project)["image_name"]))
    try:
        url = install(project, lambda p, target: run_command(["make", target], p, env=env))
        yield faults.start_stack(project, env, url)
    finally:
        cleanup.close()


def expected_files(partition: str, names: list[str]) -> list[str]:
    """What a completed pipeline on these sources writes, each once."""
    return sorted([
        *(f"raw/sales/{partition}/{name}" for name in names),
        *(f"processed/sales/{partition}/{name}.json" for name in names),
        f"reports/sales/{partition}/summary.json",
        f"reports/sales/{partition}/report.md",
        f"manifests/sales/{partition}.json",
    ])  # fmt: skip


def assert_sound(stack: Stack, outcome: Outcome) -> None:
    """Nothing left Running anywhere on the server, and every run that did not complete
    says why, in its state message or its log."""
    assert faults.left_running(stack) == []
    for run in outcome.runs + outcome.rerun:
        if run.state != "COMPLETED":
            said = " ".join([run.message, *outcome.logs.get(run.id, [])])
            assert run.message.strip(), run
            assert len(said) > 20, run
    print(f"\n{outcome.scenario}: recovered in {outcome.recovery_seconds:.1f}s")


def assert_completed_in_flight(stack: Stack, outcome: Outcome) -> None:
    """The fault hit a running pipeline mid-ingestion, and it completed all the same:
    each stage ran once, and each output exists once."""
    assert {"sales-pipeline", "sales-ingestion"} <= set(outcome.running_at_fault), outcome
    assert len(outcome.containers_after_fault) == 1, outcome  # the run's container lived on
    assert [(r.flow, r.state) for r in outcome.runs if r.state != "COMPLETED"] == []
    for flow in ("pipeline", "ingestion", "processing", "analysis"):
        assert len(outcome.of(flow)) == 1, (flow, outcome.runs)
    partition = f"faults-{outcome.scenario}"
    assert outcome.outputs[partition] == expected_files(partition, ["north.csv", "south.csv"])
    assert_sound(stack, outcome)


def test_a_killed_worker_leaves_its_flow_run_to_complete(stack: Stack) -> None:
    assert_completed_in_flight(stack, faults.worker_killed(stack))


def assert_final_in_flight(stack: Stack, outcome: Outcome) -> None:
    """The fault hit a running pipeline; its runs completed, or ended with a reason (a
    server restart once in eight left the runs to the heartbeat automation, which ended
    them Crashed). No stage ran twice."""
    if all(r.state == "COMPLETED" for r in outcome.runs):
        assert_completed_in_flight(stack, outcome)
        return
    assert {"sales-pipeline", "sales-ingestion"} <= set(outcome.running_at_fault), outcome
    assert len(outcome.containers_after_fault) == 1, outcome
    for flow in ("pipeline", "ingestion", "processing", "analysis"):
        assert len(outcome.of(flow)) <= 1, (flow, outcome.runs)
    assert_sound(stack, outcome)


def test_a_restarted_server_ends_every_run(stack: Stack) -> None:
    assert_final_in_flight(stack, faults.server_restarted(stack))


def test_a_restarted_database_leaves_the_run_to_complete(stack: Stack) -> None:
    # The server answers 500 while its database is down; the flow run's client retries
    # those (PREFECT_CLIENT_RETRY_EXTRA_CODES=500 in the image) as it does a 503.
    assert_completed_in_flight(stack, faults.postgres_restarted(stack))


def test_a_restarted_redis_leaves_the_run_to_complete(stack: Stack) -> None:
    assert_completed_in_flight(stack, faults.redis_restarted(stack))


def test_a_killed_flow_run_container_crashes_its_runs_and_a_rerun_resumes(stack: Stack) -> None:
    outcome = faults.flow_run_container_killed(stack)
    assert {"sales-pipeline", "sales-ingestion"} <= set(outcome.running_at_fault)
    states = {r.flow: (r.state, r.message) for r in outcome.runs}
    assert set(states) == {"sales-pipeline", "sales-ingestion"}, states
    assert states["sales-pipeline"][0] == "CRASHED", states
    assert "exited with non-zero status code 137" in states["sales-pipeline"][1], states
    # The stage had no process left: the heartbeat automation of `make deploy` ended it.
    assert states["sales-ingestion"][0] == "CRASHED", states
    assert states["sales-ingestion"][1].startswith("No heartbeat for 90s"), states
    assert outcome.recovery_seconds < faults.HEARTBEAT_GRACE
    # The rerun of the partition completes, and fetches only what the crash left undone.
    stages = ("pipeline", "ingestion", "processing", "analysis")
    completed = {(f"sales-{stage}", "COMPLETED") for stage in stages}
    assert {(r.flow, r.state) for r in outcome.rerun} == completed
    partition = "faults-container-killed"
    logs = [line for run in outcome.rerun for line in outcome.logs[run.id]]
    assert f"sales/{partition}: snapshot-source: 1 run, 1 already done" in logs, logs
    assert outcome.outputs[partition] == expected_files(partition, ["north.csv", "south.csv"])
    assert_sound(stack, outcome)


@pytest.mark.parametrize(
    ("driver", "path", "limit", "seconds"),
    [
        (faults.hanging_source, "hang/orders.csv", "PIPELINE_FETCH__TIMEOUT_SECONDS", "3s"),
        (faults.dripping_source, "drip/orders.csv", "PIPELINE_FETCH__DEADLINE_SECONDS", "6s"),
    ],
)
def test_a_source_that_never_answers_in_full_fails_the_run_in_bounded_time(
    stack: Stack, driver, path: str, limit: str, seconds: str
) -> None:
    outcome = driver(stack)
    states = {r.flow: r.state for r in outcome.runs}
    assert states == {"sales-pipeline": "FAILED", "sales-ingestion": "FAILED"}, outcome.runs
    # Each attempt ends at its limit: one try and one retry, each within the download
    # deadline, plus the margin of a container's start and exit.
    limits = faults.FETCH_LIMITS
    attempts = int(limits["PIPELINE_FETCH__RETRIES"]) + 1
    bound = float(limits["PIPELINE_FETCH__DEADLINE_SECONDS"]) * attempts + 60
    assert outcome.recovery_seconds < bound, outcome.recovery_seconds
    # The run says which source and which limit, in the words of the settings.
    for run in outcome.runs:
        assert f"{faults.SOURCES}/{path}" in run.message, run
        assert f"within {seconds} ({limit})" in run.message, run
    partition = f"faults-{outcome.scenario}"
    assert outcome.outputs[partition] == [f"raw/sales/{partition}/north.csv"]
    assert_sound(stack, outcome)


def test_a_malformed_source_is_quarantined_and_the_rest_completes(stack: Stack) -> None:
    outcome = faults.malformed_input(stack)
    assert {r.state for r in outcome.runs} == {"COMPLETED"}, outcome.runs
    partition = "faults-malformed"
    quarantine = [f"quarantine/sales/{partition}/broken.csv",
                  f"quarantine/sales/{partition}/broken.csv.reason.txt"]  # fmt: skip
    assert outcome.outputs[partition] == sorted(
        [*expected_files(partition, ["north.csv"]), *quarantine]
    )
    reason = faults.read_output(stack, quarantine[1])
    assert "not UTF-8 text" in reason, reason
    report = faults.read_output(stack, f"reports/sales/{partition}/report.md")
    assert "broken.csv" in report, report
    assert_sound(stack, outcome)


def test_a_full_outputs_disk_fails_the_run_with_its_reason_and_a_rerun_completes(
    stack: Stack,
) -> None:
    outcome = faults.disk_full(stack)
    assert outcome.free_kib_during_fault == 0
    states = {r.flow: (r.state, r.message) for r in outcome.runs}
    assert states.keys() == {"sales-pipeline", "sales-ingestion"}, states
    for state, message in states.values():
        assert state == "FAILED", states
        assert "No space left on device" in message, states
    # Nothing half-written was left behind, and once there is space the rerun completes.
    assert {r.state for r in outcome.rerun} == {"COMPLETED"}, outcome.rerun
    partition = "faults-disk-full"
    assert outcome.outputs[partition] == expected_files(partition, ["north.csv", "south.csv"])
    assert_sound(stack, outcome)


def test_twenty_runs_at_once_all_complete_once(stack: Stack) -> None:
    outcome = faults.many_at_once(stack)
    assert len(outcome.runs) == 20
    assert {r.state for r in outcome.runs} == {"COMPLETED"}, outcome.runs
    assert sorted(r.partition for r in outcome.runs) == sorted(outcome.outputs)
    for partition, files in outcome.outputs.items():
        assert files == [f"raw/sales/{partition}/north.csv"], (partition, files)
    assert_sound(stack, outcome)


def test_a_source_behind_a_token_gets_it_from_the_secret_block_alone(stack: Stack) -> None:
    """The token reaches the fetch only from the Secret block `make blocks` saved: not in
    the flow-run container's environment, the run's job variables or the deployment's,
    although the shell of `make run` has it too. A non-secret setting exported in that
    shell does reach the container (the outputs land under the root it names)."""
    token, partition = stack.source_token, "faults-secret"
    sources = [f"{faults.SOURCES}/auth/slow/8/north.csv", f"{faults.SOURCES}/auth/south.csv"]
    root = "/app/data/secret-source"
    shell = {"PIPELINE_STORAGE__ROOT": root, "PIPELINE_FETCH__AUTH_TOKEN": token}
    done = faults.secret_source(stack, partition, sources, token, shell)
    assert done.returncode == 0, done.output
    states = [line.split()[-1] for line in done.output.splitlines() if line.startswith("  sales-")]
    assert states == ["Completed"] * 4, done.output  # the pipeline and its three stages
    # As it started (8 s of fetching before the end), `make run` said where to follow it.
    started = f"Running sales-pipeline/sales-pipeline on partition {partition}: http"
    assert done.output.splitlines()[0].startswith(started), done.output
    # In the container: the exported setting, and no token under any name.
    assert done.container_env.get("PIPELINE_STORAGE__ROOT") == root, done.container_env
    assert [k for k, v in done.container_env.items() if token in v or "AUTH_TOKEN" in k] == []
    assert done.job_variables.get("env", {}).get("PIPELINE_STORAGE__ROOT") == root
    assert token not in json.dumps(done.job_variables), done.job_variables
    with stack.client() as client:
        deployment = client.get("deployments/name/sales-pipeline/sales-pipeline").json()
    assert token not in json.dumps(deployment), deployment["job_variables"]
    # What the run fetched with the block's token, under the exported root.
    written = [f for f in done.outputs if "/.done/" not in f"/{f}"]
    expected = expected_files(partition, ["north.csv", "south.csv"])
    assert written == [f"secret-source/{f}" for f in expected], done.outputs

    # A wrong token in the block, then no block at all: the run fails, in one line
    # that names the source and the server's answer.
    for saved, case in (("not-the-token", "wrong"), (None, "none")):
        failed = faults.secret_source(stack, f"faults-secret-{case}", sources[1:], saved, {})
        assert failed.returncode != 0, failed.output
        (reason,) = [line for line in failed.output.splitlines() if line.startswith("error:")]
        assert "sales-pipeline/sales-pipeline ended Failed" in reason, failed.output
        assert f"{faults.SOURCES}/auth/south.csv: HTTP 401 Unauthorized" in reason, reason
        assert token not in failed.output
