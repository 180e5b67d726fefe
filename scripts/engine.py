"""A Docker engine for the tests and benchmarks: is one answering, and what runs on it.

The container tests need a real engine (`docker info` answers). `.ci/run` starts
one when none does; on a developer's machine any engine works (Docker, or rootful
podman with its docker-compatible socket).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from project import run

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
