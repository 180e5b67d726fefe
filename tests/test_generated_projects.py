"""Generated projects install and pass their own `make lint test`, formatted as ruff wants."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from project import git_commit_all

# A representative subset of the answer space; the render matrix covers the rest.
PROJECTS: dict[str, dict[str, Any]] = {
    "default": {},
    "odd-names": {
        "project_name": "Données Météo 2.0",
        "departments": ["sales", "customer_success"],
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("answers", PROJECTS.values(), ids=PROJECTS.keys())
def test_generated_project_passes_its_own_lint_and_tests(render_project, make, answers) -> None:
    project: Path = render_project(**answers)
    git_commit_all(project, "rendered")

    make(project, "install")
    make(project, "lint")
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
