"""Generated projects install and pass their own `make lint test`, formatted as ruff wants."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from project import errors, free_port, git_commit_all, run, set_api_port, uv_binary

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
    "cloud-process-git-s3": {
        "prefect_backend": "cloud",
        "work_pool_type": "process",
        "code_source": "git",
        "git_repository": "https://github.com/acme/pipelines.git",
        "storage": "s3",
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

    # `make lint` before `make install` works too: the targets' `uv run` syncs the extras.
    make(project, "lint")
    make(project, "install")
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
        lines = errors(result.stdout)
        assert "Traceback" not in result.stdout, (target, result.stdout)
        if target == "status":
            assert "is not reachable" in result.stdout
        else:
            assert result.returncode != 0
            assert len(lines) == 1, (target, result.stdout)
            assert "is not reachable" in lines[0]


def interpreter(version: str) -> str:
    """This machine's CPython X.Y (pyenv builds), for UV_PYTHON."""
    found = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob(
        f"versions/{version}.*/bin/python{version}"))  # fmt: skip
    if not found:
        message = f"no CPython {version} on this machine (pyenv install {version})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return str(found[-1])


# Every python_version answer, each with a name that sorts its package differently
# against `tests` (the import order of the generated tests must not depend on it).
PYTHONS = {"3.10": "x", "3.11": "Warehouse ETL", "3.12": "Acme Data Pipelines", "3.13": "Ab"}


@pytest.mark.slow
@pytest.mark.parametrize(("python_version", "project_name"), PYTHONS.items())
def test_every_python_version_installs_and_lints(
    render_project, make, python_version: str, project_name: str
) -> None:
    project: Path = render_project(python_version=python_version, project_name=project_name)
    git_commit_all(project, "rendered")
    uv_python = {"UV_PYTHON": interpreter(python_version), "UV_PYTHON_DOWNLOADS": "never"}

    make(project, "install", "lint", extra_env=uv_python)

    assert (project / ".python-version").read_text().strip() == python_version
    venv = run([str(project / ".venv/bin/python"), "-c", "import sys; print(sys.version)"],
               project).stdout  # fmt: skip
    assert venv.startswith(f"{python_version}.")


@pytest.mark.slow
def test_a_missing_python_is_one_line_not_a_download(render_project, make, tmp_path) -> None:
    project: Path = render_project(python_version="3.13")
    # A PATH with uv and the system tools only, no Python 3.13, and downloads off.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(uv_binary())
    result = make(project, "install", check=False, extra_env={
        "PATH": f"{bin_dir}:/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "pythons"), "UV": str(bin_dir / "uv"),
    })  # fmt: skip
    assert result.returncode != 0
    (line,) = errors(result.stdout)
    assert line.startswith("error: Python 3.13 (.python-version) is not installed"), line
    assert "Traceback" not in result.stdout
    assert not (project / ".venv").exists()
