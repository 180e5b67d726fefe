"""`make demo` end to end on the local backend, checked through the Prefect API."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

import screenshots
from project import TEMPLATE, errors, free_port, git_commit_all, run
from services import live_processes

STAGES = ("ingestion", "processing", "analysis", "pipeline")


def processes_of(project: Path) -> list[str]:
    """Command lines of live processes that run from the project's virtualenv."""
    venv = str(project / ".venv")
    commands = ((pid, raw.replace(b"\0", b" ").decode()) for pid, raw in live_processes("cmdline"))
    return [f"{pid}: {command}" for pid, command in commands if venv in command]


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_make_demo_runs_the_pipeline_then_make_down_leaves_nothing(
    tmp_path: Path, env: dict[str, str], stopped_afterwards: list[Path]
) -> None:
    project = tmp_path / "demo"
    port = free_port()
    stopped_afterwards.append(project)

    result = run(
        ["make", "--no-print-directory", "demo", f"DEMO_DIR={project}", f"DEMO_PORT={port}",
         "KEEP=1"],
        TEMPLATE, env=env, timeout=900,
    )  # fmt: skip

    output = result.stdout
    for flow in ("sales-pipeline", "sales-ingestion", "sales-processing", "sales-analysis"):
        assert re.search(rf"^\s+{flow}\s+\S+\s+Completed$", output, re.MULTILINE), flow
    report = re.search(r"^\s+report at (\S+)$", output, re.MULTILINE)
    assert report is not None
    assert Path(report.group(1)).read_text().startswith("# sales")

    api = f"http://127.0.0.1:{port}/api"
    runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()
    assert sorted(r["state"]["type"] for r in runs) == ["COMPLETED"] * 4

    # The README's pictures: the UI in headless Chromium, each page showing what it is for.
    # Taken into a temporary folder: the template's tree stays clean for the renders below.
    pictures = screenshots.take(f"http://127.0.0.1:{port}", folder=tmp_path / "images")
    assert [p.name for p in pictures] == ["ui-runs.png", "ui-flow-run.png", "ui-report.png"]
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert picture.stat().st_size > 20_000, picture  # a page, not a blank
    artifacts = httpx.post(f"{api}/artifacts/filter", json={}, timeout=10).json()
    assert {a["key"] for a in artifacts} >= {"sales-report", "sales-categories"}
    deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    assert len(deployments) == 4

    # REFRESH=1 redoes every unit; SOURCES= reads other sources; a failed run shows why.
    raw = sorted(project.glob("data/raw/sales/*/*.csv"))
    written = {path: path.stat().st_mtime_ns for path in raw}
    rerun = run(["make", "run"], project, env=env).stdout
    assert {path: path.stat().st_mtime_ns for path in raw} == written  # nothing redone
    for task in ("snapshot-source", "process-snapshot"):  # and each stage says so
        assert f"      {task}: 0 run, {len(raw)} already done\n" in rerun, rerun
    refreshed = run(["make", "run", "REFRESH=1"], project, env=env).stdout
    assert "(refresh)" in refreshed
    assert all(path.stat().st_mtime_ns != written[path] for path in raw)  # everything redone
    assert f"      snapshot-source: {len(raw)} run, 0 already done\n" in refreshed, refreshed
    source = tmp_path / "extra.csv"
    source.write_text(
        "record_id,occurred_on,category,quantity,unit_price\nX1,2026-02-01,tools,3,2.50\n"
    )
    custom = run(["make", "run", f"SOURCES={source}", "PARTITION=custom"], project, env=env)
    report = re.search(r"^\s+report at (\S+)$", custom.stdout, re.MULTILINE)
    assert report is not None
    assert "extra.csv" in Path(report.group(1)).read_text()
    failed = run(["make", "run", "SOURCES=/nonexistent/orders.csv", "PARTITION=broken"], project,
                 env=env, check=False)  # fmt: skip
    assert failed.returncode != 0
    (line,) = errors(failed.stdout)
    assert "ended Failed: SourceError: source file not found: /nonexistent/orders.csv;" in line
    assert f"see http://127.0.0.1:{port}/runs/flow-run/" in line
    # The command it names shows the whole log of the stage that failed, the ingestion.
    stage_logs = line.split("the log of sales-ingestion: make run-logs ID=", 1)
    assert len(stage_logs) == 2, line
    failed_logs = run(["make", "run-logs", f"ID={stage_logs[1]}"], project, env=env).stdout
    assert "SourceError: source file not found: /nonexistent/orders.csv" in failed_logs

    status = run(["make", "status"], project, env=env).stdout
    assert re.search(r"^server: running", status, re.MULTILINE)
    assert re.search(r"^worker: running", status, re.MULTILINE)
    assert "answers and accepts the credentials" in status
    assert "a worker is online" in status
    logs = run(["make", "logs"], project, env=env).stdout
    assert "==> .run/server.log <==" in logs
    assert "==> .run/worker.log <==" in logs

    # From the terminal: the latest runs, then one run's logs (Prefect's own commands).
    runs = run(["make", "runs", "LIMIT=50"], project, env=env).stdout
    row = r"^│ ([0-9a-f-]{36}) │ (\S+)\s+│ \S+\s+│ (\w+)\s+│"
    pipelines = [(state, run_id) for run_id, flow, state in re.findall(row, runs, re.MULTILINE)
                 if flow == "sales-pipeline"]  # fmt: skip
    assert {state for state, _ in pipelines} == {"COMPLETED", "FAILED"}, runs
    completed = next(run_id for state, run_id in pipelines if state == "COMPLETED")
    pipeline_logs = run(["make", "run-logs", f"ID={completed}"], project, env=env).stdout
    assert "Finished in state Completed()" in pipeline_logs
    assert "Traceback" not in pipeline_logs
    missing = run(["make", "run-logs"], project, env=env, check=False)
    assert missing.returncode != 0
    assert "ID is required: make run-logs ID=<id from make runs>" in missing.stdout

    # Adding a department renders the skeleton and registers its deployments.
    refused = run(["make", "department", "NAME=marketing"], project, env=env, check=False)
    assert refused.returncode != 0  # Copier's own refusal: uv.lock, new, is not committed
    assert "Destination repository is dirty; cannot continue." in refused.stdout
    assert "Traceback" not in refused.stdout
    run(["git", "add", "uv.lock"], project, env=env)
    run(["git", "commit", "-qm", "Lock dependencies"], project, env=env)
    invalid = run(["make", "department", "NAME=Bad-Name"], project, env=env, check=False)
    assert invalid.returncode != 0
    assert "Traceback" not in invalid.stdout
    assert "error: " in invalid.stdout
    assert "not a valid department slug" in invalid.stdout  # copier's own validator
    added = run(["make", "department", "NAME=marketing"], project, env=env).stdout
    assert "Answers changed: {'departments': ['sales', 'marketing']}" in added
    package = next((project / "src").iterdir())
    assert (package / "flows" / "marketing" / "pipeline.py").exists()
    deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    assert len(deployments) == 8
    marketing = run(["make", "run", "DEPARTMENT=marketing"], project, env=env).stdout
    assert re.search(r"^\s+marketing-pipeline\s+\S+\s+Completed$", marketing, re.MULTILINE)

    # Removing it again names the Prefect command that drops its deployments; it works.
    git_commit_all(project, "Add marketing")
    remove = ["make", "update", "VCS_REF=:current:", "COPIER_ARGS=--data departments=[sales]"]
    removed = run(remove, project, env=env).stdout
    (command,) = [line.split(": ", 1)[1] for line in removed.splitlines()
                  if "its deployments stay on the server" in line]  # fmt: skip
    git_commit_all(project, "Remove marketing")
    assert len(httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()) == 8
    run(["bash", "-c", command], project, env=env)
    deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    assert {d["name"] for d in deployments} == {f"sales-{s}" for s in STAGES}

    # A deploy that Prefect refuses shows Prefect's output, then one line.
    prefect_yaml = (project / "prefect.yaml").read_text()
    broken = prefect_yaml.replace(".flows.sales.ingestion:", ".flows.sales.nowhere:")
    (project / "prefect.yaml").write_text(broken)
    failed = run(["make", "deploy"], project, env=env, check=False)
    (project / "prefect.yaml").write_text(prefect_yaml)
    assert failed.returncode != 0
    assert errors(failed.stdout) == [
        "error: prefect deploy failed; its output is above (and in .run/deploy.log)"
    ]
    assert "No module named" in failed.stdout
    assert "flows.sales.nowhere" in failed.stdout

    run(["make", "down"], project, env=env)
    assert processes_of(project) == []
    assert not list((project / ".run").glob("*.pid"))


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_make_demo_brings_the_backend_down_when_a_step_fails(
    tmp_path: Path, env: dict[str, str], stopped_afterwards: list[Path]
) -> None:
    project = tmp_path / "demo"
    stopped_afterwards.append(project)

    result = run(
        ["make", "--no-print-directory", "demo", f"DEMO_DIR={project}",
         f"DEMO_PORT={free_port()}", "DEPARTMENT=nonexistent"],
        TEMPLATE, env=env, timeout=900, check=False,
    )  # fmt: skip

    assert result.returncode != 0
    assert "unknown department 'nonexistent'" in result.stdout
    assert "Demo FAILED" in result.stdout
    assert processes_of(project) == []
