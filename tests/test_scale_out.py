"""The Kubernetes pool's template reaches a real Prefect server through `make pool`.

The template and manifests are validated offline by the generated project's own
tests (tests/test_kubernetes.py, run in test_generated_projects.py), and the Dask
runner by tests/flows/test_dask.py there.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from project import free_port, git_commit_all
from services import api_healthy, start, stop_group, wait_for


@pytest.mark.slow
def test_make_pool_creates_and_updates_the_kubernetes_pool_with_its_template(
    render_project, make, env: dict[str, str], tmp_path: Path
) -> None:
    project: Path = render_project(work_pool_type="kubernetes", ci="none")
    git_commit_all(project, "rendered")
    make(project, "install")
    template_file = project / "deploy/kubernetes/base-job-template.json"
    template = json.loads(template_file.read_text())

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    (project / ".env").write_text(f"PREFECT_API_URL={api}\n")
    server = start(
        [str(project / ".venv/bin/prefect"), "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        {**env, "PREFECT_HOME": str(tmp_path / "prefect-home")}, tmp_path / "server.log",
    )  # fmt: skip
    try:
        wait_for(api_healthy(api), "Prefect API", 180, server)
        said = "Work pool acme-data-pipelines-kubernetes (kubernetes) is in step with this project."
        assert make(project, "pool").stdout.splitlines()[-1] == said
        pool = httpx.get(f"{api}/work_pools/acme-data-pipelines-kubernetes", timeout=10).json()
        assert pool["type"] == "kubernetes"
        assert pool["base_job_template"] == template
        assert "Created work pool" in (project / ".run/work-pool.log").read_text()  # Prefect's

        # A change to the project's template reaches the pool with the next make pool.
        template["variables"]["properties"]["cpu_request"]["default"] = "750m"
        template_file.write_text(json.dumps(template, indent=2))
        assert make(project, "pool").stdout.splitlines()[-1] == said
        assert "Updated work pool" in (project / ".run/work-pool.log").read_text()
        pool = httpx.get(f"{api}/work_pools/acme-data-pipelines-kubernetes", timeout=10).json()
        assert pool["base_job_template"]["variables"]["properties"]["cpu_request"]["default"] == (
            "750m"
        )
    finally:
        stop_group(server)
