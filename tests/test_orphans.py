"""No orphans: when the process of a pipeline dies mid-stage, no run of it stays Running.

A pipeline's stages are child flow runs in the pipeline's process. Killed with SIGKILL
(as the OOM killer or a lost machine would), that process runs no hook: the worker marks
the pipeline Crashed, and the automation `make deploy` saves marks the stage Crashed once
its heartbeats stop. Here on the local backend, with a process pool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from project import free_port, git_commit_all, set_api_port
from services import live_processes, wait_for

CSV = b"order_id,region,amount\n1,north,10.0\n"


class SlowSource:
    """An http source that answers only when released (or after a minute)."""

    def __init__(self) -> None:
        released = self.released = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                released.wait(60)
                with contextlib.suppress(OSError):  # the client was killed meanwhile
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(CSV)))
                    self.end_headers()
                    self.wfile.write(CSV)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders.csv"

    def __enter__(self) -> SlowSource:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def processes_of_run(flow_run_id: str) -> list[int]:
    """Pids whose environment names this flow run (the process worker's child)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    return [pid for pid, environ in live_processes("environ") if marker in environ.split(b"\0")]


@pytest.fixture
def slow_source() -> Iterator[SlowSource]:
    with SlowSource() as source:
        yield source


@pytest.mark.slow
@pytest.mark.xdist_group("orphans")
def test_a_killed_pipeline_leaves_no_run_running(
    render_project, make, stopped_afterwards: list[Path], slow_source: SlowSource
) -> None:
    project: Path = render_project(
        project_name="Orphans", prefect_backend="local", work_pool_type="process"
    )
    git_commit_all(project, "rendered")
    stopped_afterwards.append(project)
    url = set_api_port(project, free_port())
    make(project, "install")
    make(project, "up")
    deploy = make(project, "deploy").stdout
    assert "created automation 'orphans-crash-unresponsive-runs'" in deploy

    with httpx.Client(base_url=f"{url}/", timeout=20) as client:
        deployment = client.get("deployments/name/sales-pipeline/sales-pipeline").json()
        for _ in range(5):  # SQLite busy under load: retried, as Prefect's own client does
            created = client.post(
                f"deployments/{deployment['id']}/create_flow_run",
                json={"parameters": {"sources": [slow_source.url]}},
            )
            if created.status_code < 500:
                break
            time.sleep(2)
        assert created.status_code == 201, created.text
        parent = created.json()

        def runs() -> list[dict]:
            return client.post("flow_runs/filter", json={}).json()

        def ingestion_running() -> bool:
            return any(
                r["state_type"] == "RUNNING" and r["name"] != parent["name"]
                and r["parent_task_run_id"] for r in runs()
            )  # fmt: skip

        def what_runs() -> str:
            states = [(r["name"], r["state_type"], (r["state"] or {}).get("message"))
                      for r in runs()]  # fmt: skip
            worker = (project / ".run" / "worker.log").read_text(errors="replace")
            tail = "\n".join(worker.splitlines()[-30:])
            return f"runs: {states}; the worker's log ends:\n{tail}"

        wait_for(ingestion_running, "the ingestion stage running", 300, explain=what_runs)
        time.sleep(5)  # its first heartbeat has reached the server
        pids = processes_of_run(parent["id"])
        assert pids, "no process runs the pipeline"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

        cleared = wait_for(
            lambda: all(r["state_type"] != "RUNNING" for r in runs()), "no run Running", 300
        )
        states = {r["name"]: (r["state_type"], r["state"]["message"]) for r in runs()}
    print(f"\nevery run ended {cleared:.0f}s after the pipeline's process was killed")
    assert states.pop(parent["name"])[0] == "CRASHED"
    (stage,) = states.values()  # ingestion: the stage that was running
    assert stage[0] == "CRASHED"
    assert stage[1].startswith("No heartbeat for 90s"), stage
