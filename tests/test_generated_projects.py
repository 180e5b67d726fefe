"""Generated projects install and pass their own `make lint test`, formatted as ruff wants."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from project import free_port, git_commit_all, run, set_api_port

# A representative subset of the answer space; the render matrix covers the rest.
PROJECTS: dict[str, dict[str, Any]] = {
    "default": {},
    "odd-names": {
        "project_name": "3D Données Météo 2.0",
        "departments": ["sales", "customer_success"],
    },
    "self-hosted-docker-s3": {
        "prefect_backend": "self_hosted",
        "work_pool_type": "docker",
        "storage": "s3",
    },
    "cloud-kubernetes-gcs": {
        "prefect_backend": "cloud",
        "work_pool_type": "kubernetes",
        "storage": "gcs",
        "ci": "none",
    },
    "local-docker-azure": {"work_pool_type": "docker", "storage": "azure"},
    "local-process-dask": {"task_runner": "dask", "ci": "none"},
}


@pytest.mark.slow
@pytest.mark.parametrize("answers", PROJECTS.values(), ids=PROJECTS.keys())
def test_generated_project_passes_its_own_lint_and_tests(
    render_project, make, env: dict[str, str], answers: dict[str, Any]
) -> None:
    project: Path = render_project(**answers)
    git_commit_all(project, "rendered")

    make(project, "install")
    make(project, "lint")
    hooks = run(
        [env["UV"], "run", "pre-commit", "run", "--all-files"], project, env=env, check=False
    )
    assert hooks.returncode == 0, hooks.stdout
    result = make(project, "test", "PYTEST_ARGS=-q -p no:cacheprovider")
    assert " passed" in result.stdout
    assert " failed" not in result.stdout

    # `make format` on a fresh project changes nothing: the template is ruff-formatted.
    make(project, "format")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert status.stdout == "", status.stdout


@pytest.mark.slow
def test_missing_prerequisites_and_a_stopped_server_give_one_clear_line(
    render_project, make
) -> None:
    project: Path = render_project()
    no_uv = make(project, "install", "UV=/nonexistent/uv", check=False)
    assert no_uv.returncode != 0
    (line,) = no_uv.stdout.strip().splitlines()
    assert "uv not found: install it" in line

    make(project, "install")
    set_api_port(project, free_port())  # nothing listens there
    for target in ("deploy", "run", "blocks", "status"):
        result = make(project, target, check=False)
        errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
        assert "Traceback" not in result.stdout, (target, result.stdout)
        if target == "status":
            assert "is not reachable" in result.stdout
        else:
            assert result.returncode != 0
            assert len(errors) == 1, (target, result.stdout)
            assert "is not reachable" in errors[0]
