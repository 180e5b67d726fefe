"""The documentation site builds strictly, and its getting-started commands work."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from project import BIN, TEMPLATE, free_port, host_python, project_env, run, set_api_port

DOCS = TEMPLATE / "docs"


def test_the_site_builds_strictly_with_every_question_documented(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=TEMPLATE, capture_output=True, text=True, check=False,
        env={**project_env(), "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    page = (site / "reference/questions/index.html").read_text()
    copier_yml = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    asked = [
        k for k, v in copier_yml.items() if not k.startswith("_") and v.get("when") is not False
    ]
    for question in asked:
        assert f"<code>{question}</code>" in page, question
    for page_name in ("backends/self-hosted", "storage/s3", "troubleshooting", "updating",
                      "migrating-from-prefect-2", "deploying"):  # fmt: skip
        assert (site / page_name / "index.html").exists()


def test_the_question_reference_in_the_repository_is_current() -> None:
    check = subprocess.run(
        [sys.executable, str(TEMPLATE / "scripts/questions_reference.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def getting_started_commands() -> list[str]:
    text = (DOCS / "getting-started.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]


@pytest.mark.slow
@pytest.mark.xdist_group("docs")
def test_every_getting_started_command_runs(tmp_path: Path, stopped_afterwards) -> None:
    """Run the page's commands in order, as a newcomer would.

    `make demo` has its own end-to-end test (test_demo.py). The others run here
    verbatim, with the substitutions a test needs: the template is this checkout (at
    HEAD, answering with the defaults, so no clone), tools install into throwaway
    folders, and `.env` moves the local server to a free port.
    """
    commands = [c for c in getting_started_commands() if c and c != "make demo"]
    assert commands[:4] == [
        "pip install uv",
        "uv tool install copier",
        "git clone https://github.com/<owner>/copier-prefect-starter.git",
        'copier copy "$PWD/copier-prefect-starter" my-pipelines',
    ]
    env = project_env()
    venv = tmp_path / "tools"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env.update(UV_TOOL_DIR=str(tmp_path / "uv-tools"), UV_TOOL_BIN_DIR=str(venv / "bin"))
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    cwd = tmp_path
    for command in commands:
        if command.startswith("git clone "):
            continue  # this checkout is the clone
        if command.startswith("cd "):
            cwd = cwd / command[3:]
            stopped_afterwards.append(cwd)
            continue
        if command.startswith("copier copy "):
            words = shlex.split(command)
            command = shlex.join(
                [words[0], words[1], "--defaults", "--vcs-ref", "HEAD",
                 "--data", f"python_version={host_python()}", str(TEMPLATE), words[-1]]
            )  # fmt: skip
        if command == "make up":
            set_api_port(cwd, free_port())
        result = run(["bash", "-c", command], cwd, env=env, timeout=900)
        if command == "make run":
            assert re.search(r"^\s+sales-pipeline\s+\S+\s+Completed$", result.stdout, re.M)
