"""Limits on a real server: a deployed run (worker, flow-run process) honours the limit on
the fetch tasks' tag set with Prefect's own command, as the project README says, and the
flow timeout the settings give when it runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import combinations
from pathlib import Path

import httpx
import pytest

from project import api_time, errors, free_port, git_commit_all, run, set_api_port

TAG = "acme-data-pipelines-fetch"  # <package>-fetch, the default package acme_data_pipelines


@contextlib.contextmanager
def slow_sources(delay: float) -> Iterator[str]:
    """An HTTP server on loopback answering every path with a CSV after `delay` seconds."""
    body = b"record_id,occurred_on,category,quantity,unit_price\nA1,2026-01-02,tools,2,10.00\n"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def tag_limit(api: str) -> int | None:
    reply = httpx.get(f"{api}/concurrency_limits/tag/{TAG}", timeout=10)
    if reply.status_code == 404:
        return None
    reply.raise_for_status()
    return int(reply.json()["concurrency_limit"])


def latest_run(api: str, deployment: str) -> dict:
    found = httpx.get(f"{api}/deployments/name/{deployment}", timeout=10).json()
    body = {"flow_runs": {"deployment_id": {"any_": [found["id"]]}}, "sort": "START_TIME_DESC"}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()[0]


def fetch_intervals(api: str, flow_run_id: str) -> list[tuple[object, object]]:
    body = {
        "flow_runs": {"id": {"any_": [flow_run_id]}},
        "task_runs": {"name": {"like_": "snapshot-source"}},
    }
    runs = httpx.post(f"{api}/task_runs/filter", json=body, timeout=10).json()
    assert all(TAG in run["tags"] for run in runs)
    return sorted((api_time(r["start_time"]), api_time(r["end_time"])) for r in runs)


@pytest.mark.slow
@pytest.mark.xdist_group("limits")
def test_deployed_runs_honour_the_fetch_limit_and_the_flow_timeout(
    render_project, make, stopped_afterwards: list[Path]
) -> None:
    project: Path = render_project()
    git_commit_all(project, "rendered")
    make(project, "install")
    stopped_afterwards.append(project)
    api = set_api_port(project, free_port())
    make(project, "up")
    make(project, "deploy")
    readme = (project / "README.md").read_text()
    command = f"uv run prefect concurrency-limit create {TAG} 4"
    assert command in readme
    run(command.replace(" 4", " 1").split(), project)  # as the README says, with limit 1
    assert tag_limit(api) == 1

    with slow_sources(delay=1.0) as base:
        # Three sources, limit 1: the deployed run's fetches take turns.
        sources = " ".join(f"{base}/{name}.csv" for name in ("a", "b", "c"))
        make(project, "run", "FLOW=ingestion", f"SOURCES={sources}")
        intervals = fetch_intervals(api, latest_run(api, "sales-ingestion/sales-ingestion")["id"])
        assert len(intervals) == 3
        assert not any(a < d and c < b for (a, b), (c, d) in combinations(intervals, 2))

    with slow_sources(delay=60.0) as base:
        # The timeout is read by the flow-run process when the run starts: make run passes
        # this shell's PIPELINE_* variables to the run. Without it, the run would complete.
        timed_out = make(project, "run", f"SOURCES={base}/slow.csv", check=False, extra_env={
            "PIPELINE_FLOWS__TIMEOUT_SECONDS": "3",
            "PIPELINE_FETCH__TIMEOUT_SECONDS": "10",
            "PIPELINE_FETCH__RETRIES": "0",
        })  # fmt: skip
        assert timed_out.returncode != 0
    (line,) = errors(timed_out.stdout)
    assert "sales-pipeline/sales-pipeline ended TimedOut" in line
    assert "sales-pipeline ran longer than 3s (PIPELINE_FLOWS__TIMEOUT_SECONDS)" in line
    timed_out_run = latest_run(api, "sales-pipeline/sales-pipeline")
    assert timed_out_run["state"]["type"] == "FAILED"
    assert timed_out_run["state"]["name"] == "TimedOut"
    assert timed_out_run["run_count"] == 1  # no flow retries by default
