"""`make run-local`: the pipeline in one process, with no server running and none kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from project import git_commit_all


@pytest.mark.slow
def test_make_run_local_needs_no_server(render_project, make) -> None:
    project: Path = render_project(project_name="Run Here")  # the defaults: local backend
    git_commit_all(project, "rendered")
    make(project, "install")

    output = make(project, "run-local", "PARTITION=2026-01-31").stdout

    assert "Running sales-pipeline on partition 2026-01-31, in this process" in output
    report = re.search(r"^Report: (\S+)$", output, re.MULTILINE)
    assert report is not None, output
    assert Path(report.group(1)).read_text().startswith("# sales")
    assert Path(report.group(1)).is_relative_to(project / "data")
    assert not (project / ".run").exists()  # `make up` never ran: no server, no worker

    bad = make(project, "run-local", "PARTITION=a/b", check=False)
    assert bad.returncode != 0
    assert bad.stdout.startswith("error: partition 'a/b' must be")  # the first line: no traceback
    assert "Traceback" not in bad.stdout
