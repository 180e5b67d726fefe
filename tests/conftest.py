"""Fixtures for the template's tests: rendering, and driving generated projects."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from project import TEMPLATE, host_python, project_env, run

COPIER_YML = yaml.safe_load((TEMPLATE / "copier.yml").read_text())


@pytest.fixture
def render_project(copie):
    """Render the template at HEAD with pytest-copie: the defaults plus the given answers
    (python_version defaults to this machine's Python)."""

    def _render(**answers: Any) -> Path:
        result = copie.copy(extra_answers={"python_version": host_python(), **answers})
        assert result.exception is None, result.exception
        assert result.project_dir is not None
        return Path(result.project_dir)

    return _render


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Container tests run whenever a Docker engine answers; with CI=true they must."""
    from engine import engine_problem

    problem = engine_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {problem}: the container tests cannot run", pytrace=False)
    pytest.skip(f"container tests need a Docker engine: {problem}")


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return project_env()


@pytest.fixture
def make(env: dict[str, str]):
    """Run `make TARGET...` in a project and return the completed process."""

    def _make(
        project: Path,
        *targets: str,
        timeout: float = 900,
        check: bool = True,
        extra_env: dict[str, str] | None = None,
    ):
        return run(
            ["make", "--no-print-directory", *targets],
            project,
            env={**env, **(extra_env or {})},
            timeout=timeout,
            check=check,
        )

    return _make


@pytest.fixture
def stopped_afterwards(env: dict[str, str], copie) -> Iterator[list[Path]]:
    """Projects appended here get `make down`, then any leftover pid killed, at teardown
    (before copie removes the projects it rendered)."""
    projects: list[Path] = []
    yield projects
    for project in projects:
        run(["make", "down"], project, env=env, check=False, timeout=120)
        for pid_file in (project / ".run").glob("*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
