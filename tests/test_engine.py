"""The container path on a real Docker engine: images, the compose stack, flow runs in containers.

Every test here needs an engine (`docker info` answers): without one they skip with
one reason, and with CI=true they fail instead. They share one xdist group, so two
stacks never compete for the engine, and each removes its containers, volumes and
images at the end.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from engine import (
    Cleanup,
    answers_of,
    api,
    containers,
    docker,
    in_image,
    install,
    read_dotenv,
    services,
    volumes,
)
from project import free_port, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("engine")]

STACK = {"postgres", "redis", "prefect-server", "prefect-services", "worker"}
FLOWS = ("sales-pipeline", "sales-ingestion", "sales-processing", "sales-analysis")
OUTPUT_ROW = re.compile(
    r"^      (?:raw snapshots|processed batches|summary|report|manifest) at (\S+)$", re.MULTILINE
)


@pytest.fixture
def cleanup(docker_engine: None, env: dict[str, str], copie) -> Iterator[Cleanup]:
    # (after copie, so it runs before copie removes the projects)
    made = Cleanup(env)
    try:
        yield made
    finally:
        made.close()


def wait_until_healthy(project: Path, env: dict[str, str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        states = services(project, env)
        if states and all(s["State"] == "running" and s["Health"] == "healthy"
                          for s in states.values()):  # fmt: skip
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy after {timeout:g}s: {states}")
        time.sleep(2)


def assert_completed(output: str) -> None:
    for flow in FLOWS:
        assert re.search(rf"^\s+{flow}\s+\S+\s+Completed$", output, re.MULTILINE), (flow, output)


def read_report(output: str, project: Path, env: dict[str, str]) -> str:
    """Follow the hint `make run` prints to read the report, and return the report."""
    hint = re.search(r"\(/app/data in the containers\)\. Read one: (.+)$", output, re.MULTILINE)
    report = re.search(r"^      report at (\S+)$", output, re.MULTILINE)
    assert hint is not None, output
    assert report is not None, output
    command = shlex.split(hint.group(1).replace("<path>", report.group(1)))
    result = run(command, project, env=env)
    if command[:2] == ["docker", "run"]:
        return result.stdout
    return (project / Path(report.group(1)).name).read_text()  # docker compose cp ... .


def answer(project: Path, env: dict[str, str], target: str, reply: str, *args: str):
    """Run a make target that asks a question, and answer it."""
    return subprocess.run(
        ["make", "--no-print-directory", target, *args], cwd=project, env=env,
        input=f"{reply}\n", capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def no_flow_run_containers_left(timeout: float = 60) -> bool:
    """Finished flow-run containers remove themselves (auto_remove)."""
    deadline = time.monotonic() + timeout
    while containers("label=io.prefect.flow-run-id"):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


PROBE_NAMES = """
import socket
for host in ("postgres", "redis", "prefect-server"):
    try:
        socket.getaddrinfo(host, None)
        print(host, "resolves")
    except socket.gaierror:
        print(host, "unknown")
"""
PROBE_REDIS = """
import socket
with socket.create_connection(("redis", 6379), timeout=5) as connection:
    connection.sendall(b"PING\\r\\n")
    print(connection.recv(64).decode().split()[0])
"""


def assert_flow_runs_are_contained(
    client: httpx.Client, project: Path, name: str, env: dict[str, str]
) -> None:
    """What the API credentials cannot do through a docker-pool run, and what a flow-run
    container cannot reach."""
    deployments = client.post("deployments/filter", json={}).json()
    pipeline = next(d for d in deployments if d["name"] == "sales-pipeline")
    for widened in (
        {"volumes": ["/etc:/host-etc:ro"]}, {"privileged": True}, {"network_mode": "host"},
        {"networks": [f"{name}_backend"]}, {"container_create_kwargs": {"user": "root"}},
        {"mem_limit": "64g"},
    ):  # fmt: skip
        run = client.post(
            f"deployments/{pipeline['id']}/create_flow_run", json={"job_variables": widened}
        )
        assert run.status_code == 422, (widened, run.status_code, run.text)
        # The server stores a deployment's job variables unchecked, but no run starts from them.
        deployment = f"deployments/{pipeline['id']}"
        original = pipeline["job_variables"]
        stored = client.patch(deployment, json={"job_variables": {**original, **widened}})
        assert stored.is_success, stored.text
        run = client.post(f"{deployment}/create_flow_run", json={})
        assert run.status_code == 422, (widened, run.status_code, run.text)
        client.patch(deployment, json={"job_variables": original}).raise_for_status()
    # A container as the pool starts them (its image, its network) knows the API only.
    image = pipeline["job_variables"]["image"]
    seen = docker("run", "--rm", "--network", f"{name}_default", image, "python", "-c",
                  PROBE_NAMES).stdout.split("\n")  # fmt: skip
    assert seen[:3] == ["postgres unknown", "redis unknown", "prefect-server resolves"], seen
    # On the stores' own network, Redis still asks for its password.
    reply = docker("run", "--rm", "--network", f"{name}_backend", image, "python", "-c",
                   PROBE_REDIS).stdout.strip()  # fmt: skip
    assert reply == "-NOAUTH", reply


@pytest.mark.parametrize("pool", ["docker", "process"])
def test_the_self_hosted_stack_deploys_runs_and_keeps_its_history(
    cleanup: Cleanup, render_project, make, env: dict[str, str], pool: str
) -> None:
    project: Path = render_project(
        project_name=f"Engine Stack {pool}", prefect_backend="self_hosted", work_pool_type=pool
    )
    answers = answers_of(project)
    name = str(answers["project_slug"])
    cleanup.stacks.append(project)
    cleanup.images.append(str(answers.get("image_name", f"{name}-worker")))
    url = install(project, make)

    # `make up` returns 0 once every service, the server's background services
    # included, reports healthy (the worker's health comes from the image's HEALTHCHECK).
    up = make(project, "up", check=False)
    assert up.returncode == 0, up.stdout
    # It ends with the check of the API, as this shell reaches it, and what to do next.
    assert up.stdout.splitlines()[-4:] == [
        f"settings valid; api {url} answers and accepts the credentials",
        f"UI at {url.removesuffix('/api')}",
        f"pool {answers['work_pool_name']}: a worker is online",
        "Logs: `make logs`; stop: `make down`.",
    ], up.stdout
    states = services(project, env)
    assert set(states) == STACK
    assert {(s["State"], s["Health"]) for s in states.values()} == {("running", "healthy")}

    dotenv = read_dotenv(project / ".env")
    assert len(dotenv["POSTGRES_PASSWORD"]) >= 24
    user, password = dotenv["PREFECT_API_AUTH_STRING"].split(":", 1)
    with api(url) as anonymous:
        assert anonymous.get("health").status_code == 200
        assert anonymous.post("flows/filter", json={}).status_code == 401
    client = api(url, httpx.BasicAuth(user, password))

    deploy = make(project, "deploy").stdout
    deployments = client.post("deployments/filter", json={}).json()
    assert {d["name"] for d in deployments} == set(FLOWS)
    deployed = [line for line in deploy.splitlines() if line.startswith("deployed ")]
    assert len(deployed) == len(FLOWS)  # one line each
    assert (
        f"created automation '{name}-crash-unresponsive-runs': runs without heartbeats end Crashed"
    ) in deploy.splitlines()
    if pool == "docker":
        # prefect.yaml's build step made the image, and left no intermediate container.
        assert docker("image", "ls", "--quiet", str(answers["image_name"])).stdout.strip()
        assert containers("status=created") == []

    output = make(project, "run").stdout
    assert_completed(output)
    runs = client.post("flow_runs/filter", json={}).json()
    assert sorted(r["state"]["type"] for r in runs) == ["COMPLETED"] * 4
    (parent,) = [r for r in runs if r["parent_task_run_id"] is None]
    workers = client.post(f"work_pools/{name}-{pool}/workers/filter", json={}).json()
    assert [w["status"] for w in workers] == ["ONLINE"]
    if pool == "docker":
        # The run had a container of its own (the docker worker records its id) ...
        assert parent["infrastructure_pid"], parent
        assert no_flow_run_containers_left()  # ... removed once it ended
        assert_flow_runs_are_contained(client, project, name, env)

    # Every output path `make run` prints is where it says: in the stack's volume.
    assert f"in docker volume {name}_pipeline-data" in output
    paths = OUTPUT_ROW.findall(output)
    assert len(paths) == 5
    for path in paths:
        docker("compose", "exec", "-T", "worker", "test", "-e", path, cwd=project, env=env)
    assert read_report(output, project, env).startswith("# sales")

    # The history is in PostgreSQL: it survives a restart of the API ...
    ids = {r["id"] for r in runs}
    docker("compose", "restart", "prefect-server", cwd=project, env=env)
    wait_until_healthy(project, env)
    assert {r["id"] for r in client.post("flow_runs/filter", json={}).json()} == ids
    # ... and `make down` + `make up`, which keep the volumes.
    make(project, "down")
    assert all(s["State"] != "running" for s in services(project, env).values())
    stack_volumes = volumes(name)
    assert stack_volumes == {f"{name}_{v}-data" for v in ("postgres", "redis", "pipeline")}
    make(project, "up")
    assert {r["id"] for r in client.post("flow_runs/filter", json={}).json()} == ids
    client.close()

    # `make destroy` asks first; confirmed, it deletes this stack's volumes and nothing else.
    bystander = f"{name}-bystander"
    cleanup.volumes.append(bystander)
    docker("volume", "create", bystander)
    refused = answer(project, env, "destroy", "no")
    assert refused.returncode != 0
    assert "Nothing deleted." in refused.stdout
    assert volumes(name) == stack_volumes
    confirmed = answer(project, env, "destroy", "yes")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert volumes(name) == set()
    assert services(project, env) == {}
    docker("volume", "inspect", bystander)
    assert docker("image", "ls", "--quiet", f"{name}-worker").stdout.strip()  # images are kept


BACKED_UP = re.compile(
    r"^Backed up (.+) to (backups/prefect-\d{8}T\d{6}Z\.dump) \([\d.]+ [kMG]?B\)\.$"
)


def history(client: httpx.Client) -> tuple[dict[str, str], set[str]]:
    """Flow run id -> state type, and the deployment ids, read through the API."""
    runs = client.post("flow_runs/filter", json={}).json()
    deployments = client.post("deployments/filter", json={}).json()
    return {r["id"]: r["state"]["type"] for r in runs}, {d["id"] for d in deployments}


def backed_up(project: Path, make) -> tuple[str, Path]:
    """`make backup`: what it says it dumped, and the file, which is there, private, ignored."""
    (line,) = make(project, "backup").stdout.splitlines()
    match = BACKED_UP.match(line)
    assert match is not None, line
    dump = project / match.group(2)
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert dump.stat().st_mode & 0o777 == 0o600
    run(["git", "check-ignore", "--quiet", match.group(2)], project)
    return match.group(1), dump


def external_postgres(cleanup: Cleanup, name: str, password: str) -> tuple[str, int]:
    """A PostgreSQL outside the stack, published on the Docker host's bridge address only,
    which the stack reaches as host.docker.internal; (container, port)."""
    gateway = docker("network", "inspect", "bridge", "--format",
                     "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()  # fmt: skip
    container, port = f"{name}-external-db", free_port()
    cleanup.containers.append(container)
    docker("run", "--detach", "--name", container, "-e", "POSTGRES_USER=pipelines",
           "-e", f"POSTGRES_PASSWORD={password}", "-e", "POSTGRES_DB=orchestration",
           "-p", f"{gateway}:{port}:5432", "postgres:17.6-trixie")  # fmt: skip
    deadline = time.monotonic() + 60
    while docker("exec", container, "pg_isready", "-U", "pipelines", "-d", "orchestration",
                 check=False).returncode != 0:  # fmt: skip
        assert time.monotonic() < deadline, "the external PostgreSQL did not start"
        time.sleep(1)
    return container, port


def test_backup_restore_and_an_external_database(
    cleanup: Cleanup, render_project, make, env: dict[str, str]
) -> None:
    """Back up, destroy, restore: the runs and deployments are back. Then the same dump moves
    the history to a PostgreSQL outside the stack, which one .env setting points at."""
    project: Path = render_project(
        project_name="Engine Database", prefect_backend="self_hosted", work_pool_type="process"
    )
    name = str(answers_of(project)["project_slug"])
    cleanup.stacks.append(project)
    cleanup.images.append(f"{name}-worker")
    url = install(project, make)
    make(project, "up")
    assert "postgres" in services(project, env)
    user, password = read_dotenv(project / ".env")["PREFECT_API_AUTH_STRING"].split(":", 1)
    client = api(url, httpx.BasicAuth(user, password))
    make(project, "deploy")
    assert_completed(make(project, "run").stdout)
    runs, deployments = history(client)
    assert sorted(runs.values()) == ["COMPLETED"] * 4
    assert len(deployments) == len(FLOWS)

    status = make(project, "status").stdout
    assert status.splitlines()[-1] == "database: the bundled postgres service"
    # With the stack down, make backup starts the bundled database alone.
    make(project, "down")
    what, dump = backed_up(project, make)
    assert what == "the bundled postgres service"
    running = {n for n, s in services(project, env).items() if s["State"] == "running"}
    assert running == {"postgres"}
    assert answer(project, env, "destroy", "yes").returncode == 0
    assert volumes(name) == set()
    make(project, "up")  # a new, empty database
    assert history(client) == ({}, set())

    # restore asks first; refused, it changes nothing.
    relative = f"FILE={dump.relative_to(project)}"
    refused = answer(project, env, "restore", "no", relative)
    assert refused.returncode != 0
    assert refused.stdout.endswith("Type 'yes': Nothing restored.\n"), refused.stdout
    assert history(client) == ({}, set())
    restored = answer(project, env, "restore", "yes", relative)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert restored.stdout.splitlines()[-1].endswith(
        f"Restored {dump.relative_to(project)} into the bundled postgres service; "
        "the stack is up again."
    )
    assert history(client) == (runs, deployments)
    states = wait_until_healthy(project, env)
    assert set(states) == STACK

    # An external PostgreSQL: one line in .env. The bundled database is not even created.
    external_password = "external-password-0123456789"
    container, port = external_postgres(cleanup, name, external_password)
    make(project, "down")
    assert services(project, env) == {}
    with (project / ".env").open("a") as env_file:
        env_file.write(
            f"PREFECT_DATABASE_URL=postgresql+asyncpg://pipelines:{external_password}"
            f"@host.docker.internal:{port}/orchestration\n"
        )
    up = make(project, "up").stdout
    assert "the bundled postgres service stays off" in up
    states = wait_until_healthy(project, env)
    assert set(states) == STACK - {"postgres"}  # `ps --all`: not created at all
    status = make(project, "status").stdout
    assert status.splitlines()[-1] == "database: external (PREFECT_DATABASE_URL in .env)"
    assert history(client) == ({}, set())  # the server migrated the new database
    # The same dump moves the history there.
    make(project, "restore", relative, "YES=1")
    assert history(client) == (runs, deployments)
    assert_completed(make(project, "run").stdout)
    after, _ = history(client)
    assert len(after) == 8
    assert set(after.values()) == {"COMPLETED"}
    # ... and the runs are rows of the external database.
    stored = docker("exec", container, "psql", "-U", "pipelines", "-d", "orchestration", "-tAc",
                    "SELECT id, state_type FROM flow_run").stdout.split()  # fmt: skip
    assert {row.split("|")[0]: row.split("|")[1] for row in stored} == after
    what, _ = backed_up(project, make)
    assert what == f"the external PostgreSQL at host.docker.internal:{port}/orchestration"
    assert external_password not in up + status
    client.close()


def test_a_local_server_runs_flows_in_docker_containers(
    cleanup: Cleanup, render_project, make, env: dict[str, str], stopped_afterwards: list[Path]
) -> None:
    project: Path = render_project(project_name="Engine Local", work_pool_type="docker")
    answers = answers_of(project)
    cleanup.volumes.append(f"{answers['project_slug']}_pipeline-data")
    cleanup.images.append(str(answers["image_name"]))
    stopped_afterwards.append(project)
    url = install(project, make)

    make(project, "up")
    make(project, "deploy")
    output = make(project, "run").stdout
    assert_completed(output)
    with api(url) as client:
        (parent,) = client.post(
            "flow_runs/filter", json={"flow_runs": {"parent_task_run_id": {"is_null_": True}}}
        ).json()
    assert parent["state"]["type"] == "COMPLETED"
    assert parent["infrastructure_pid"]  # the docker worker's container id
    assert no_flow_run_containers_left()
    # The outputs are in the named volume, and the printed command reads the report.
    assert f"in docker volume {answers['project_slug']}_pipeline-data" in output
    assert read_report(output, project, env).startswith("# sales")
    make(project, "down")


PORT_OPEN = "import socket; socket.create_connection(('127.0.0.1', 5000), 3)"
MOTO_DOCKERFILE = """\
FROM python:{python}-slim-trixie
RUN pip install --no-cache-dir "moto[server]>=5,<6"
USER 10001
CMD ["moto_server", "-H", "0.0.0.0", "-p", "5000"]
"""


def test_flow_runs_in_containers_keep_outputs_and_results_in_s3(
    cleanup: Cleanup, render_project, make, env: dict[str, str]
) -> None:
    """The self-hosted stack with s3 storage, against moto's S3 server in the stack's network."""
    project: Path = render_project(
        project_name="Engine S3", prefect_backend="self_hosted", work_pool_type="docker",
        storage="s3",
    )  # fmt: skip
    answers = answers_of(project)
    name, python = str(answers["project_slug"]), str(answers["python_version"])
    cleanup.stacks.append(project)
    cleanup.images += [f"{name}-moto", str(answers["image_name"])]
    install(project, make)

    s3_port = free_port()
    moto = project.parent / "moto"
    moto.mkdir()
    (moto / "Dockerfile").write_text(MOTO_DOCKERFILE.format(python=python))
    (project / "compose.moto.yaml").write_text(textwrap.dedent(f"""\
        services:
          moto:
            image: {name}-moto:test
            build: {moto}
            ports: ["127.0.0.1:{s3_port}:5000"]
            healthcheck:
              test: ["CMD", "python", "-c", "{PORT_OPEN}"]
              interval: 2s
              retries: 30
    """))  # fmt: skip
    with (project / ".env").open("a") as env_file:
        env_file.write(
            "PIPELINE_STORAGE__BUCKET=pipelines\nPIPELINE_STORAGE__PREFIX=engine\n"
            "PIPELINE_STORAGE__ENDPOINT_URL=http://moto:5000\n"
            "AWS_ACCESS_KEY_ID=emulator\nAWS_SECRET_ACCESS_KEY=emulator\n"
            "AWS_DEFAULT_REGION=us-east-1\n"
        )
    make(project, "up", extra_env={"COMPOSE_FILE": "compose.yaml:compose.moto.yaml"})

    s3 = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{s3_port}", aws_access_key_id="emulator",
        aws_secret_access_key="emulator", region_name="us-east-1",
    )  # fmt: skip
    s3.create_bucket(Bucket="pipelines")
    make(project, "blocks")
    make(project, "deploy")
    first = make(project, "run").stdout
    assert_completed(first)
    # The flows say where their outputs are (the endpoint resolves only inside the stack).
    assert re.search(r"^      report at s3://pipelines/engine/reports/sales/", first, re.MULTILINE)

    def objects() -> dict[str, str]:
        listing = s3.list_objects_v2(Bucket="pipelines")["Contents"]
        return {o["Key"]: f"{o['ETag']}@{o['LastModified'].isoformat()}" for o in listing}

    stored = objects()
    for folder in ("raw", "processed", "reports", "manifests"):
        assert any(k.startswith(f"engine/{folder}/sales/") for k in stored), (folder, stored)
    records = [k for k in stored if k.startswith("engine/.done/")]
    assert records, stored  # the records of finished work, where any worker finds them

    # A rerun of the same partition, in a new container, skips every unit: nothing is
    # written again, and the tasks say so.
    second = make(project, "run").stdout
    assert_completed(second)
    assert objects() == stored
    assert "snapshot-source: 0 run, 3 already done" in second, second
    assert "process-snapshot: 0 run, 3 already done" in second, second
    assert no_flow_run_containers_left()


@pytest.mark.parametrize(
    ("backend", "pool", "storage"),
    [("self_hosted", "docker", "s3"), ("local", "kubernetes", "none")],
)
def test_the_image_is_lean_runs_as_non_root_and_holds_no_secret(
    cleanup: Cleanup, render_project, env: dict[str, str], backend: str, pool: str, storage: str
) -> None:
    project: Path = render_project(
        project_name=f"Engine Image {pool}", prefect_backend=backend, work_pool_type=pool,
        storage=storage,
    )  # fmt: skip
    package = str(answers_of(project)["package_name"])
    run([env["UV"], "lock"], project, env=env)
    # A secret and local state in the build context must not reach the image.
    (project / ".env").write_text("PREFECT_API_KEY=pnu_planted_secret_0123456789\n")
    (project / "data").mkdir()
    (project / "data" / "private.csv").write_text("secret\n")
    image = f"engine-image-{pool}:test"
    cleanup.images.append(image.split(":")[0])
    docker("build", "--pull", "-f", "Dockerfile.worker", "-t", image, ".", cwd=project,
           timeout=1200)  # fmt: skip

    assert in_image(image, ["id", "-u"]).stdout.strip() == "10001"
    assert in_image(image, ["prefect", "version"]).stdout.startswith("Version:")
    extras = {"docker": "prefect_docker", "kubernetes": "prefect_kubernetes"}[pool]
    imports = f"import {package}, {extras}{', prefect_aws' if storage == 's3' else ''}"
    in_image(image, ["python", "-c", imports])
    absent = in_image(image, ["python", "-c", textwrap.dedent("""\
        import importlib.util, pathlib, shutil
        dev = [m for m in ("pytest", "mypy", "ruff", "copier", "pre_commit")
               if importlib.util.find_spec(m)]
        tools = [t for t in ("gcc", "cc", "c++", "make", "uv") if shutil.which(t)]
        paths = [p for p in ("/app/.env", "/app/data/private.csv", "/app/.git", "/root/.cache",
                             "/app/.cache", "/app/tests") if pathlib.Path(p).exists()]
        print(dev, tools, paths)
    """)], user="0").stdout.strip()  # fmt: skip
    assert absent == "[] [] []"
    healthcheck = docker("image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}",
                         image).stdout  # fmt: skip
    assert f"{package}.ops.healthcheck" in healthcheck
    # A container that runs a flow passes the health check without a worker.
    flow_run = docker("run", "--rm", "-e", "PREFECT__FLOW_RUN_ID=1", "--entrypoint", "python",
                      image, "-m", f"{package}.ops.healthcheck", check=False)  # fmt: skip
    assert flow_run.returncode == 0
    worker = docker("run", "--rm", "--entrypoint", "python", image, "-m",
                    f"{package}.ops.healthcheck", check=False)  # fmt: skip
    assert worker.returncode == 1  # no worker answers in this container
