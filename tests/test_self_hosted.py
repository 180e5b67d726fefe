"""The self-hosted stack as plain processes: the same programs, no Docker engine needed.

The test takes each container's environment and command from the rendered compose
file (resolved by Compose itself) and the image's from Dockerfile.worker, maps the
service names to 127.0.0.1 and free ports, and runs PostgreSQL and Redis (Debian
packages), the API server, the background services and the worker, all from a
virtualenv built with the image's own `uv sync` commands.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest

from project import (
    COMPOSE_BINARY,
    dockerfile_commands,
    errors,
    free_port,
    git_commit_all,
    run,
    set_api_port,
)
from services import api_healthy, postgres, redis, start, stop_group, wait_for


def read_dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


class Stack:
    """Translate container names, ports and paths to this machine's."""

    def __init__(self, project: Path, image_venv: Path, ports: dict[str, tuple[int, int]]):
        self.paths = [("/app/.venv", str(image_venv)), ("/app", str(project))]
        self.ports = ports  # service -> (container port, host port)

    def value(self, key: str, value: str) -> str:
        for service, (inside, outside) in self.ports.items():
            value = value.replace(f"{service}:{inside}", f"127.0.0.1:{outside}")
            value = value.replace(f"127.0.0.1:{inside}/", f"127.0.0.1:{outside}/")
            if key.endswith("_HOST") and value == service:
                value = "127.0.0.1"
            if key.endswith("_PORT") and key.startswith("PREFECT_REDIS") and service == "redis":
                value = value.replace(str(inside), str(outside))
        for inside_path, outside_path in self.paths:
            value = value.replace(inside_path, outside_path)
        return value

    def command(self, command: list[str]) -> list[str]:
        translated = ["127.0.0.1" if part == "0.0.0.0" else part for part in command]
        if "--port" in translated:
            index = translated.index("--port") + 1
            translated[index] = str(self.ports["prefect-server"][1])
        return translated


@pytest.mark.slow
@pytest.mark.xdist_group("self_hosted")
def test_the_self_hosted_stack_deploys_runs_and_keeps_its_history(
    render_project, make, env: dict[str, str], tmp_path: Path
) -> None:
    project: Path = render_project(prefect_backend="self_hosted", work_pool_type="process")
    git_commit_all(project, "rendered")
    package = next((project / "src").iterdir()).name
    make(project, "install")
    # .env exactly as `make up` writes it: random secrets, no literal in any committed file.
    run([str(project / ".venv/bin/python"), "-m", f"{package}.ops.env_file"], project, env=env)
    dotenv = read_dotenv(project / ".env")
    assert len(dotenv["POSTGRES_PASSWORD"]) >= 24
    assert len(dotenv["REDIS_PASSWORD"]) >= 24
    assert dotenv["PREFECT_API_AUTH_STRING"].startswith("admin:")

    # The image: its own `uv sync` commands, into a plain virtualenv.
    image_venv = tmp_path / "image-venv"
    syncs, image_env = dockerfile_commands((project / "Dockerfile.worker").read_text())
    assert any("--no-dev" in s and "--frozen" in s for s in syncs)
    for sync in syncs:
        run(shlex.split(sync), project, env={**env, "UV_PROJECT_ENVIRONMENT": str(image_venv)})

    compose = json.loads(
        run([COMPOSE_BINARY, "-f", "compose.yaml", "config", "--format", "json"], project,
            env=env).stdout
    )["services"]  # fmt: skip
    # The image's default command is the worker the stack runs.
    cmd = re.search(r"^CMD (\[.*\])$", (project / "Dockerfile.worker").read_text(), re.M)
    assert cmd is not None
    assert json.loads(cmd.group(1)) == compose["worker"]["command"]
    api_port, worker_health_port = free_port(), free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    with (
        postgres("prefect", dotenv["POSTGRES_PASSWORD"], "prefect") as pg,
        redis(tmp_path, dotenv["REDIS_PASSWORD"]) as redis_port,
    ):
        stack = Stack(
            project, image_venv,
            {"postgres": (5432, pg.port), "redis": (6379, redis_port),
             "prefect-server": (4200, api_port)},
        )  # fmt: skip

        def container(service: str) -> tuple[list[str], dict[str, str]]:
            spec = compose[service]
            environment = {**env, "PREFECT_HOME": str(tmp_path / f"home-{service}")}
            environment.update({k: stack.value(k, v) for k, v in image_env.items()})
            environment["PATH"] = f"{image_venv / 'bin'}:{env['PATH']}"
            environment.update({k: stack.value(k, v) for k, v in spec["environment"].items()})
            environment["PREFECT_WORKER_WEBSERVER_PORT"] = str(worker_health_port)
            return stack.command(spec["command"]), environment

        api = f"http://127.0.0.1:{api_port}/api"
        processes: dict[str, subprocess.Popen] = {}
        try:
            for service in ("prefect-server", "prefect-services", "worker"):
                command, environment = container(service)
                processes[service] = start(command, environment, logs / f"{service}.log", project)
                if service == "prefect-server":
                    wait_for(api_healthy(api), "API on PostgreSQL", 240, processes[service])

            # /health is open (for probes); everything else needs the credentials.
            assert httpx.post(f"{api}/flows/filter", json={}, timeout=10).status_code == 401
            user, password = dotenv["PREFECT_API_AUTH_STRING"].split(":", 1)
            auth = httpx.BasicAuth(user, password)
            assert httpx.post(f"{api}/flows/filter", json={}, auth=auth).status_code == 200

            _, worker_env = container("worker")
            healthcheck = [str(image_venv / "bin/python"), "-m", f"{package}.ops.healthcheck"]
            wait_for(
                lambda: subprocess.run(healthcheck, env=worker_env, check=False).returncode == 0,
                "worker health check", 120, processes["worker"],
            )  # fmt: skip

            set_api_port(project, api_port)
            make(project, "deploy")
            output = make(project, "run").stdout
            assert re.search(r"^\s+sales-pipeline\s+\S+\s+Completed$", output, re.MULTILINE)
            runs = httpx.post(f"{api}/flow_runs/filter", json={}, auth=auth).json()
            assert {r["state"]["type"] for r in runs} == {"COMPLETED"}
            assert (project / "data/reports/sales").is_dir()  # the worker's /app/data

            # The history lives in PostgreSQL: it survives a restart of the API.
            stop_group(processes.pop("prefect-server"))
            command, environment = container("prefect-server")
            processes["prefect-server"] = start(command, environment, logs / "restart.log", project)
            wait_for(api_healthy(api), "API restart", 240, processes["prefect-server"])
            after = httpx.post(f"{api}/flow_runs/filter", json={}, auth=auth).json()
            assert {r["id"] for r in after} == {r["id"] for r in runs}
        finally:
            for process in reversed(list(processes.values())):
                stop_group(process)


@pytest.mark.slow
def test_the_database_settings_and_commands_refuse_bad_input_in_one_line(
    render_project, make, env: dict[str, str]
) -> None:
    """PREFECT_DATABASE_URL, make backup and make restore: each mistake is one line, before
    anything is written or started (no Docker engine needed)."""
    project: Path = render_project(prefect_backend="self_hosted", work_pool_type="process")
    git_commit_all(project, "rendered")
    package = next((project / "src").iterdir()).name
    make(project, "install")
    secret = "not-to-be-printed-0123"
    host = "db.example.com"
    for url, message in [
        (f"postgres://u:{secret}@{host}/prefect",
         "PREFECT_DATABASE_URL must start with postgresql+asyncpg:// (Prefect's PostgreSQL "
         "driver), not postgres://; write it as postgresql+asyncpg://<user>:<password>@<host>"),
        (f"postgresql+asyncpg://u:{secret}@localhost:5432/prefect",
         "points at localhost, which inside the containers is the container itself: use "
         "host.docker.internal"),
        (f"postgresql+asyncpg://u:{secret}@{host}:port/prefect", "has a port that is not a number"),
        (f"postgresql+asyncpg://u:{secret}@{host}:5432/", "has no database name"),
        (f"postgresql+asyncpg://{host}/prefect", "has no user"),
    ]:  # fmt: skip
        result = make(project, "up", check=False, extra_env={"PREFECT_DATABASE_URL": url})
        assert result.returncode != 0, url
        (line,) = errors(result.stdout)
        assert message in line, (url, line)
        assert secret not in result.stdout
        assert "docker compose" not in result.stdout  # nothing started ...
        assert not (project / ".env").exists()  # ... nor written

    # From .env, the same check; .env is left as it was.
    (project / ".env").write_text(f"PREFECT_DATABASE_URL=postgresql://u:{secret}@{host}/prefect\n")
    before = (project / ".env").read_text()
    (line,) = errors(make(project, "up", check=False).stdout)
    assert "PREFECT_DATABASE_URL must start with postgresql+asyncpg://" in line
    assert (project / ".env").read_text() == before

    # As make up writes .env, then with a valid URL added: the bundled database is switched
    # off in .env, and back on once the URL is gone.
    (project / ".env").unlink()
    env_file = [str(project / ".venv/bin/python"), "-m", f"{package}.ops.env_file"]
    run(env_file, project, env=env)
    assert read_dotenv(project / ".env")["COMPOSE_PROFILES"] == "bundled-database"
    good = f"PREFECT_DATABASE_URL=postgresql+asyncpg://u:{secret}@{host}:5432/prefect\n"
    with (project / ".env").open("a") as dotenv:
        dotenv.write(good)
    switched = run(env_file, project, env=env).stdout
    assert "PREFECT_DATABASE_URL is set: the bundled postgres service stays off" in switched
    assert secret not in switched
    assert read_dotenv(project / ".env")["COMPOSE_PROFILES"] == ""
    (project / ".env").write_text((project / ".env").read_text().replace(good, ""))
    assert "bundled postgres service is on" in run(env_file, project, env=env).stdout
    assert read_dotenv(project / ".env")["COMPOSE_PROFILES"] == "bundled-database"

    # make restore: which file, an existing one, a dump.
    for args, message in [
        ((), "say which dump: make restore FILE=backups/<name>.dump (make backup writes them)"),
        (("FILE=backups/missing.dump",), "backups/missing.dump not found"),
        (("FILE=README.md",), "README.md is not a dump in pg_dump's custom format"),
    ]:
        result = make(project, "restore", *args, check=False)
        assert result.returncode != 0, args
        (line,) = errors(result.stdout)
        assert message in line, (args, line)
        assert "docker compose" not in result.stdout
    # make backup needs the database's password, which make up writes.
    (project / ".env").unlink()
    (line,) = errors(make(project, "backup", check=False).stdout)
    assert "POSTGRES_PASSWORD is not set in .env: run `make up` first" in line

    # An API URL whose port the stack does not publish: the line says where the port is set.
    api_url = f"http://127.0.0.1:{free_port()}/api"
    result = make(project, "check", check=False, extra_env={"PREFECT_API_URL": api_url})
    assert result.returncode != 0
    (line,) = errors(result.stdout)
    assert line == (
        f"error: the Prefect API at {api_url} is not reachable (ConnectError): start it with "
        "`make up`, or fix PREFECT_API_URL (the stack publishes the API on API_PORT: 4200 "
        "unless .env sets it)"
    )
