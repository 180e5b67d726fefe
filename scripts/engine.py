"""A Docker engine for the tests and benchmarks: is one answering, and what runs on it.

The container tests need a real engine (`docker info` answers). `.ci/run` starts
one when none does; on a developer's machine any engine works (Docker, or rootful
podman with its docker-compatible socket).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
import yaml

from project import free_port, git_commit_all, run, set_api_port

ENGINE_TIMEOUT = 30


def engine_problem() -> str | None:
    """None when a Docker engine with Compose v2 answers, else why not (one line)."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    for command, what in (
        (["docker", "info", "--format", "{{.ServerVersion}}"], "no Docker engine answers"),
        (["docker", "compose", "version", "--short"], "the Compose v2 plugin is missing"),
    ):
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=ENGINE_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return f"{what} (`{' '.join(command[:2])}` timed out)"
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return f"{what} ({reason})"
    return None


def docker(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], cwd or Path.cwd(), env=env, timeout=timeout, check=check)


def services(project: Path, env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """`docker compose ps` of a project: service -> its State and Health."""
    output = docker("compose", "ps", "--all", "--format", "json", cwd=project, env=env).stdout
    rows: list[dict[str, str]] = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("["):  # older Compose releases print one JSON array
            rows.extend(json.loads(line))
        elif line.startswith("{"):
            rows.append(json.loads(line))
    return {row["Service"]: row for row in rows}


def volumes(label_project: str) -> set[str]:
    """The volumes Compose made for a project."""
    output = docker(
        "volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={label_project}"
    ).stdout
    return set(output.split())


def containers(*filters: str) -> list[str]:
    """Names of containers (running or not) that match every `key=value` filter."""
    args = [arg for f in filters for arg in ("--filter", f)]
    output = docker("ps", "--all", "--format", "{{.Names}} {{.Status}}", *args).stdout
    return output.splitlines()


def image_size(image: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def in_image(
    image: str, command: Sequence[str], *, user: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command in a throwaway container of the image (as `user`, else the image's)."""
    user_args = ["--user", user] if user else []
    return docker("run", "--rm", *user_args, "--entrypoint", command[0], image, *command[1:],
                  check=check)  # fmt: skip


def api(url: str, auth: httpx.Auth | None = None) -> httpx.Client:
    """A client for the Prefect API at `url` (…/api), bounded in time."""
    return httpx.Client(base_url=url.rstrip("/") + "/", auth=auth, timeout=20)


class Cleanup:
    """What a test made on the engine, removed at teardown even when the test fails."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.stacks: list[Path] = []
        self.images: list[str] = []  # repositories
        self.volumes: list[str] = []
        self.containers: list[str] = []

    def close(self) -> None:
        tagged = {repository: set(docker("image", "ls", "--quiet", repository,
                                         check=False).stdout.split())
                  for repository in self.images}  # fmt: skip
        # Flow-run containers are removed when they end; a failed test may leave some.
        # Only those of this test's images: other projects may share the engine.
        for image in set().union(*tagged.values()):
            for row in containers("label=io.prefect.flow-run-id", f"ancestor={image}"):
                docker("rm", "--force", row.split()[0], check=False)
        for project in self.stacks:  # every profile: the bundled database too, whatever .env says
            docker("compose", "down", "--volumes", "--remove-orphans", "--rmi", "all",
                   cwd=project, env={**self.env, "COMPOSE_PROFILES": "*"}, check=False,
                   timeout=300)  # fmt: skip
        for container in self.containers:
            docker("rm", "--force", "--volumes", container, check=False)
        for ids in tagged.values():  # every tag of each repository
            if ids:
                docker("image", "rm", "--force", *ids, check=False)
        for volume in self.volumes:
            docker("volume", "rm", "--force", volume, check=False)


def answers_of(project: Path) -> dict[str, object]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def install(project: Path, make: Callable[[Path, str], object]) -> str:
    """Commit, install, commit the lock file (as the README says); a free API port."""
    git_commit_all(project, "Initial commit")
    make(project, "install")
    git_commit_all(project, "Lock dependencies")
    return set_api_port(project, free_port())


def read_dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs if not key.startswith("#")}
