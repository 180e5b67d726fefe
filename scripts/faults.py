"""The fault matrix: faults injected into a running self-hosted stack (docker pool).

Each driver takes a `Stack` (a rendered project whose `make up` and `make deploy` ran,
with the sources container of fault_sources.py beside it), starts runs, injects its
fault while a run is in flight, and returns an `Outcome`: the runs with their final
states and messages, the outputs of the partitions they wrote, and the seconds from
the fault to recovery (the run COMPLETED, or every affected run final). The tests
(tests/test_faults.py) assert on outcomes; `make bench` prints their recovery times.

`secret_source` is apart: it drives `make blocks` and `make run` themselves, to show
where a fetch's bearer token comes from in a flow-run container (a `MakeRun`).

Runs are created through the API as `make run` creates them: the deployment, the
partition and sources as parameters, and PIPELINE_* settings as the run's `env`
job variable (ops/run.py does the same with the shell's variables).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from engine import api, containers, docker, read_dotenv, services
from project import run

SOURCES = "http://sources:8000"  # the sources service, on the network flow runs join
DEPARTMENT = "sales"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
HEARTBEAT_GRACE = 240  # 3 missed heartbeats of 30 s, plus the automation's evaluation
# How a fetch fails fast in the source scenarios: per read, per download, one retry.
FETCH_LIMITS = {
    "PIPELINE_FETCH__TIMEOUT_SECONDS": "3",
    "PIPELINE_FETCH__DEADLINE_SECONDS": "6",
    "PIPELINE_FETCH__RETRIES": "1",
    "PIPELINE_FETCH__BACKOFF_SECONDS": "0",
}
SOURCES_SERVICE = """\
# The fault matrix's sources (scripts/fault_sources.py) on the stack's default network,
# which flow-run containers join: they reach it as http://sources:8000 and nothing
# else on the host has to listen.
services:
  sources:
    image: python:{python}-slim-trixie
    command: ["python", "/srv/fault_sources.py"]
    user: "10001"
    # What its /auth/ paths demand: the token `make blocks` saves as a Secret block.
    environment: {{SOURCES_TOKEN: "{token}"}}
    read_only: true
    # It also keeps the outputs volume mounted: a tmpfs volume is emptied whenever no
    # container has it mounted (the worker is killed in one scenario).
    volumes: ["{script}:/srv/fault_sources.py:ro", "pipeline-data:/srv/outputs:ro"]
    healthcheck:
      test: ["CMD", "python", "-c", "{probe}"]
      interval: 2s
      retries: 30

# The outputs volume on a small tmpfs, so the disk-full scenario can fill it. The pool's
# job template still mounts this same volume, and nothing else, into every flow run.
volumes:
  pipeline-data:
    driver_opts: {{type: tmpfs, device: tmpfs, o: "size={outputs_mb}m,uid=10001"}}
"""
OUTPUTS_MB = 64


@dataclass
class Stack:
    project: Path
    env: dict[str, str]  # COMPOSE_FILE includes the sources service
    url: str
    auth: tuple[str, str]
    name: str  # the compose project
    source_token: str = ""  # what the sources' /auth/ paths demand as a bearer token

    def client(self) -> httpx.Client:
        return api(self.url, httpx.BasicAuth(*self.auth))

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> str:
        return docker("compose", *args, cwd=self.project, env=self.env, check=check,
                      timeout=timeout).stdout  # fmt: skip

    def make(self, *targets: str) -> str:
        return run(["make", "--no-print-directory", *targets], self.project, env=self.env).stdout

    def healthy(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = services(self.project, self.env)
            if states and all(s["State"] == "running" and s["Health"] == "healthy"
                              for s in states.values()):  # fmt: skip
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"stack not healthy after {timeout:g}s: {states}")
            time.sleep(2)


def start_stack(project: Path, env: dict[str, str], url: str) -> Stack:
    """`make up` (with the sources service) and `make deploy` in an installed project."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    (project / "compose.faults.yaml").write_text(SOURCES_SERVICE.format(
        python=answers["python_version"], script=Path(__file__).with_name("fault_sources.py"),
        probe="import socket; socket.create_connection(('127.0.0.1', 8000), 3)",
        outputs_mb=OUTPUTS_MB, token=(token := secrets.token_hex(16)),
    ))  # fmt: skip
    stack_env = {**env, "COMPOSE_FILE": "compose.yaml:compose.faults.yaml"}
    name = yaml.safe_load((project / "compose.yaml").read_text())["name"]
    stack = Stack(project, stack_env, url, ("", ""), str(name), token)
    stack.make("up")
    user, password = read_dotenv(project / ".env")["PREFECT_API_AUTH_STRING"].split(":", 1)
    stack.auth = (user, password)
    stack.make("deploy")
    return stack


@dataclass
class Run:
    id: str
    flow: str  # sales-pipeline, sales-ingestion, ...
    state: str
    message: str
    partition: str


@dataclass
class Outcome:
    scenario: str
    runs: list[Run]  # every flow run the scenario created, children included
    outputs: dict[str, list[str]]  # partition -> files written (records of done work apart)
    recovery_seconds: float
    running_at_fault: list[str] = field(default_factory=list)  # flows RUNNING when it hit
    logs: dict[str, list[str]] = field(default_factory=dict)  # run id -> log messages
    rerun: list[Run] = field(default_factory=list)  # a rerun of the same partition, if any
    # The run's flow-run containers still running once the fault was injected.
    containers_after_fault: list[str] = field(default_factory=list)
    free_kib_during_fault: int = -1  # the disk-full scenario: space left on the volume

    def of(self, flow: str) -> list[Run]:
        return [r for r in self.runs if r.flow == f"{DEPARTMENT}-{flow}"]


def tolerant(call: Callable[[], object], default: object = None) -> object:
    """The API call's result, or `default` while the API (or its database) is down."""
    try:
        return call()
    except (httpx.HTTPError, ValueError):
        return default


def create_run(
    stack: Stack, flow: str, partition: str, sources: list[str] | None = None,
    settings: dict[str, str] | None = None,
) -> str:  # fmt: skip
    parameters: dict[str, object] = {"partition": partition, "refresh": False}
    if sources:
        parameters["sources"] = sources
    with stack.client() as client:
        name = f"{DEPARTMENT}-{flow}"
        deployment = client.get(f"deployments/name/{name}/{name}")
        deployment.raise_for_status()
        created = client.post(
            f"deployments/{deployment.json()['id']}/create_flow_run",
            json={"parameters": parameters, "job_variables": {"env": settings or {}}},
        )
        created.raise_for_status()
        return str(created.json()["id"])


def family(client: httpx.Client, parents: list[str]) -> list[dict]:
    """The runs and their children (the stages of a pipeline)."""
    found = client.post("flow_runs/filter", json={"flow_runs": {"id": {"any_": parents}}})
    children = client.post(
        "flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {"any_": parents}}}
    )
    found.raise_for_status()
    children.raise_for_status()
    return [*found.json(), *children.json()]


def flow_names(client: httpx.Client) -> dict[str, str]:
    return {f["id"]: f["name"] for f in client.post("flows/filter", json={}).json()}


def as_runs(client: httpx.Client, rows: list[dict]) -> list[Run]:
    names = flow_names(client)
    return [
        Run(row["id"], names[row["flow_id"]], row["state_type"],
            (row["state"] or {}).get("message") or "", row["parameters"].get("partition", ""))
        for row in rows
    ]  # fmt: skip


def wait_until(stack: Stack, parents: list[str], done: Callable[[list[dict]], bool],
               timeout: float) -> list[dict]:  # fmt: skip
    """Poll the runs (API outages tolerated) until `done(runs)`; the runs."""
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        with stack.client() as client:
            rows = tolerant(lambda: family(client, parents), rows)  # type: ignore[arg-type]
        if rows and done(rows):
            return rows
        time.sleep(1)
    states = sorted((r["name"], r["state_type"]) for r in rows)
    raise AssertionError(f"runs not there after {timeout:g}s: {states}")


def all_final(rows: list[dict]) -> bool:
    return all(r["state_type"] in FINAL for r in rows)


def stage_running(rows: list[dict]) -> bool:
    return any(r["parent_task_run_id"] and r["state_type"] == "RUNNING" for r in rows)


def logs_of(stack: Stack, run_id: str) -> list[str]:
    with stack.client() as client:
        logs = client.post("logs/filter", json={
            "logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200,
        })  # fmt: skip
        logs.raise_for_status()
        return [log["message"] for log in logs.json()]


def outputs(stack: Stack, partition: str) -> list[str]:
    """Every file of the partition in the outputs volume, as the flow runs see it; the
    records of finished work (.done/) apart."""
    with stack.client() as client:
        name = f"{DEPARTMENT}-pipeline"
        deployment = client.get(f"deployments/name/{name}/{name}").json()
    listing = docker(
        "run", "--rm", "-v", f"{stack.name}_pipeline-data:/app/data:ro",
        deployment["job_variables"]["image"], "find", "/app/data", "-type", "f",
    ).stdout.split()  # fmt: skip
    prefix = len("/app/data/")
    files = [path[prefix:] for path in listing]
    mine = [f for f in files if f"/{partition}/" in f or f.endswith(f"/{partition}.json")]
    return sorted(f for f in mine if not f.startswith(".done/"))


def read_output(stack: Stack, key: str) -> str:
    with stack.client() as client:
        name = f"{DEPARTMENT}-pipeline"
        image = client.get(f"deployments/name/{name}/{name}").json()["job_variables"]["image"]
    return docker("run", "--rm", "-v", f"{stack.name}_pipeline-data:/app/data:ro", image,
                  "cat", f"/app/data/{key}").stdout  # fmt: skip


def finish(stack: Stack, scenario: str, parents: list[str], partitions: list[str],
           fault_at: float, timeout: float = 300) -> Outcome:  # fmt: skip
    """Wait until every run is final; the outcome, recovery counted from `fault_at`."""
    rows = wait_until(stack, parents, all_final, timeout)
    recovered = time.monotonic() - fault_at
    with stack.client() as client:
        runs = as_runs(client, rows)
    logs = {r.id: logs_of(stack, r.id) for r in runs if r.state != "COMPLETED"}
    return Outcome(scenario, runs, {p: outputs(stack, p) for p in partitions}, recovered,
                   logs=logs)  # fmt: skip


@dataclass
class Fault:
    inject: Callable[[Stack], None]
    repair: Callable[[Stack], None] = lambda stack: None  # what a person does next


def in_flight(stack: Stack, scenario: str, fault: Fault, delay: float = 12) -> Outcome:
    """A pipeline whose ingestion waits `delay` s on a slow source; the fault is injected
    once that stage is Running (in a thread, so the runs are watched meanwhile)."""
    partition = f"faults-{scenario}"
    sources = [f"{SOURCES}/good/north.csv", f"{SOURCES}/slow/{delay:g}/south.csv"]
    parent = create_run(stack, "pipeline", partition, sources)
    rows = wait_until(stack, [parent], stage_running, 300)
    time.sleep(3)  # the slow request is in flight
    with stack.client() as client:
        rows = family(client, [parent])
        running = [r.flow for r in as_runs(client, rows) if r.state == "RUNNING"]
    survivors: list[str] = []

    def inject() -> None:
        fault.inject(stack)
        survivors.extend(containers(f"label=io.prefect.flow-run-id={parent}", "status=running"))
        fault.repair(stack)

    fault_at = time.monotonic()
    injected = threading.Thread(target=inject)
    injected.start()
    try:
        outcome = finish(stack, scenario, [parent], [partition], fault_at)
    finally:
        injected.join(600)
    stack.healthy()
    outcome.running_at_fault = running
    outcome.containers_after_fault = survivors
    return outcome


def kill_worker(stack: Stack) -> None:
    stack.compose("kill", "worker")


def restart(service: str) -> Callable[[Stack], None]:
    def fault(stack: Stack) -> None:
        stack.compose("restart", service)

    return fault


def worker_killed(stack: Stack) -> Outcome:
    # `make up` brings the worker back, as a person (or a restart policy) would.
    return in_flight(stack, "worker-killed", Fault(kill_worker, lambda stack: stack.make("up")))


def server_restarted(stack: Stack) -> Outcome:
    return in_flight(stack, "server-restarted", Fault(restart("prefect-server")))


def postgres_restarted(stack: Stack) -> Outcome:
    return in_flight(stack, "postgres-restarted", Fault(restart("postgres")))


def redis_restarted(stack: Stack) -> Outcome:
    return in_flight(stack, "redis-restarted", Fault(restart("redis")))


def flow_run_container_killed(stack: Stack) -> Outcome:
    """SIGKILL the pipeline's container mid-ingestion (one source done, one slow), wait
    for every run to end, then rerun the partition: the finished snapshot is reused."""
    partition = "faults-container-killed"
    sources = [f"{SOURCES}/good/north.csv", f"{SOURCES}/slow/60/south.csv"]
    parent = create_run(stack, "pipeline", partition, sources)
    wait_until(stack, [parent], stage_running, 300)
    time.sleep(5)  # the fast source is snapshotted, a heartbeat has reached the server
    with stack.client() as client:
        running = [r.flow for r in as_runs(client, family(client, [parent]))
                   if r.state == "RUNNING"]  # fmt: skip
    (container,) = containers(f"label=io.prefect.flow-run-id={parent}")
    fault_at = time.monotonic()
    docker("kill", container.split()[0])
    outcome = finish(stack, "container-killed", [parent], [partition], fault_at,
                     timeout=HEARTBEAT_GRACE + 60)  # fmt: skip
    outcome.running_at_fault = running
    again = create_run(stack, "pipeline", partition, [f"{SOURCES}/good/north.csv",
                                                      f"{SOURCES}/good/south.csv"])  # fmt: skip
    rerun = finish(stack, "container-killed-rerun", [again], [partition], time.monotonic())
    outcome.rerun = rerun.runs
    outcome.outputs = rerun.outputs
    outcome.logs.update({r.id: logs_of(stack, r.id) for r in rerun.runs})
    return outcome


def failing_source(stack: Stack, scenario: str, path: str) -> Outcome:
    """A pipeline on one good source and one that never answers in full, with the
    fetch limits of FETCH_LIMITS; recovery counts from the ingestion's start."""
    partition = f"faults-{scenario}"
    sources = [f"{SOURCES}/good/north.csv", f"{SOURCES}/{path}"]
    parent = create_run(stack, "pipeline", partition, sources, FETCH_LIMITS)
    wait_until(stack, [parent], stage_running, 300)
    started = time.monotonic()
    return finish(stack, scenario, [parent], [partition], started)


def hanging_source(stack: Stack) -> Outcome:
    return failing_source(stack, "hanging-source", "hang/orders.csv")


def dripping_source(stack: Stack) -> Outcome:
    return failing_source(stack, "dripping-source", "drip/orders.csv")


def malformed_input(stack: Stack) -> Outcome:
    partition = "faults-malformed"
    sources = [f"{SOURCES}/good/north.csv", f"{SOURCES}/bad/broken.csv"]
    started = time.monotonic()
    parent = create_run(stack, "pipeline", partition, sources)
    return finish(stack, "malformed-input", [parent], [partition], started)


def disk_full(stack: Stack) -> Outcome:
    """A pipeline while the outputs volume is full; then space is freed and the
    partition rerun. Recovery counts from the run's creation to its final state."""
    partition = "faults-disk-full"
    filler = "/app/data/.filler"
    # dd stops (and fails) when the volume is full: that is the point.
    stack.compose("exec", "-T", "worker", "dd", "if=/dev/zero", f"of={filler}", "bs=1M",
                  check=False)  # fmt: skip
    free = stack.compose("exec", "-T", "worker", "df", "--output=avail", "/app/data")
    sources = [f"{SOURCES}/good/north.csv", f"{SOURCES}/good/south.csv"]
    started = time.monotonic()
    parent = create_run(stack, "pipeline", partition, sources)
    try:
        outcome = finish(stack, "disk-full", [parent], [partition], started)
    finally:
        stack.compose("exec", "-T", "worker", "rm", "-f", filler)
    outcome.free_kib_during_fault = int(free.split()[-1])
    again = create_run(stack, "pipeline", partition, sources)
    rerun = finish(stack, "disk-full-rerun", [again], [partition], time.monotonic())
    outcome.rerun = rerun.runs
    outcome.outputs = rerun.outputs
    return outcome


def many_at_once(stack: Stack, count: int = 20) -> Outcome:
    """`count` ingestion runs created at once, one partition each (a pipeline deployment
    runs one at a time by design: its concurrency limit is 1, ENQUEUE); recovery is the
    time from their creation to the last one final."""
    partitions = [f"faults-many-{i:02d}" for i in range(count)]
    started = time.monotonic()
    parents = [create_run(stack, "ingestion", p, [f"{SOURCES}/good/north.csv"])
               for p in partitions]  # fmt: skip
    return finish(stack, "20-at-once", parents, partitions, started, timeout=900)


@dataclass
class MakeRun:
    """One `make run` of the secret-source scenario, and what its flow runs were given."""

    returncode: int
    output: str
    container_env: dict[str, str]  # the pipeline's flow-run container, seen while it ran
    job_variables: dict[str, object]  # the pipeline run's, as the server keeps them
    outputs: list[str]


def secret_source(stack: Stack, partition: str, sources: list[str], token: str | None,
                  shell: dict[str, str]) -> MakeRun:  # fmt: skip
    """`make blocks` with PIPELINE_FETCH__AUTH_TOKEN=`token` (None: the Secret block is
    deleted instead), then `make run` of the pipeline on `sources` with the variables
    `shell` exported; the flow-run container's environment is read while it runs."""
    answers = yaml.safe_load((stack.project / ".copier-answers.yml").read_text())
    block = f"{answers['package_name'].replace('_', '-')}-fetch-auth-token"  # block_names.py
    without = {k: v for k, v in stack.env.items() if k != "PIPELINE_FETCH__AUTH_TOKEN"}
    if token is None:
        with stack.client() as client:
            found = client.get(f"block_types/slug/secret/block_documents/name/{block}")
            if found.status_code == 200:
                client.delete(f"block_documents/{found.json()['id']}").raise_for_status()
    else:
        run(["make", "--no-print-directory", "blocks"], stack.project,
            env={**without, "PIPELINE_FETCH__AUTH_TOKEN": token})  # fmt: skip
    seen: dict[str, str] = {}
    made: list[subprocess.CompletedProcess[str]] = []

    def make_run() -> None:
        made.append(run(["make", "--no-print-directory", "run", "DEPARTMENT=sales",
                         f"PARTITION={partition}", f"SOURCES={' '.join(sources)}"],
                        stack.project, env={**without, **shell}, check=False))  # fmt: skip

    running = threading.Thread(target=make_run)
    running.start()
    run_id = ""
    while running.is_alive() and not seen:
        for row in containers("label=io.prefect.flow-run-id", "status=running",
                              "label=io.prefect.flow-name=sales-pipeline"):  # fmt: skip
            inspected = docker("inspect", row.split()[0], check=False).stdout
            if inspected.strip().startswith("["):
                (config,) = json.loads(inspected)
                seen.update(line.split("=", 1) for line in config["Config"]["Env"])
                run_id = config["Config"]["Labels"]["io.prefect.flow-run-id"]
        time.sleep(0.5)
    running.join(900)
    job_variables: dict[str, object] = {}
    if run_id:
        with stack.client() as client:
            job_variables = client.get(f"flow_runs/{run_id}").json()["job_variables"]
    (result,) = made
    return MakeRun(result.returncode, result.stdout, seen, job_variables,
                   outputs(stack, partition))  # fmt: skip


SCENARIOS: dict[str, Callable[[Stack], Outcome]] = {
    "worker killed mid-run": worker_killed,
    "server restarted mid-run": server_restarted,
    "PostgreSQL restarted mid-run": postgres_restarted,
    "Redis restarted mid-run": redis_restarted,
    "flow-run container killed mid-stage": flow_run_container_killed,
    "hanging source": hanging_source,
    "dripping source": dripping_source,
    "malformed input among good ones": malformed_input,
    "outputs disk full": disk_full,
    "20 runs at once": many_at_once,
}


def left_running(stack: Stack) -> list[str]:
    """Every flow run of the server still Running or Pending (none should be, between
    scenarios)."""
    query = {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}}}
    with stack.client() as client:
        rows = client.post("flow_runs/filter", json=query)
        rows.raise_for_status()
        return [f"{r['name']} {r['state_type']}" for r in rows.json()]
