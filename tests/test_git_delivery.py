"""code_source=git: flow runs clone the pushed code, so a worker runs anywhere.

The slow test serves the project's repository over HTTPS on 127.0.0.1 behind a token
(scripts/git_server.py: `git http-backend`), deploys to a real Prefect server, and
runs the pipeline on a process worker started in an empty directory: the run clones
the repository with the token of the Secret block `make blocks` saved.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx
import pytest
import yaml

from project import errors, free_port, git_commit_all, run
from services import api_healthy, git_https, start, stop_group, wait_for

GIT_ANSWERS = {"prefect_backend": "cloud", "work_pool_type": "process", "ci": "none"}
REPOSITORY = "https://git.example.com/acme/pipelines.git"
CLONE = "prefect.deployments.steps.git_clone"
WORKDIR = "prefect.deployments.steps.set_working_directory"
PIPELINE = "sales-pipeline/sales-pipeline"
TOKEN_BLOCK = "acme-data-pipelines-git-token"


def test_local_code_source_renders_the_same_prefect_yaml_as_before(render_project) -> None:
    """`local` (the default) is today's behaviour: the prefect.yaml of a local-backend
    process project (where the question is not asked), no pull step."""
    cloud = render_project(**GIT_ANSWERS, code_source="local")
    local = render_project(prefect_backend="local", work_pool_type="process", ci="none")
    assert (cloud / "prefect.yaml").read_text() == (local / "prefect.yaml").read_text()
    assert "pull" not in yaml.safe_load((cloud / "prefect.yaml").read_text())
    assert "GitSettings" not in (cloud / "src/acme_data_pipelines/settings.py").read_text()


def test_git_code_source_clones_the_branch_with_the_token_block(render_project) -> None:
    project = render_project(
        **GIT_ANSWERS, code_source="git", git_repository=REPOSITORY, git_branch="release/1"
    )
    prefect_yaml = yaml.safe_load((project / "prefect.yaml").read_text())
    assert not {"build", "push"} & set(prefect_yaml)
    clone, workdir = prefect_yaml["pull"]
    assert clone[CLONE] == {
        "id": "clone",
        "repository": REPOSITORY,
        "branch": "release/1",
        "access_token": "{{ prefect.blocks.secret.acme-data-pipelines-git-token }}",
    }
    # The flows are imported from the clone's src/ (module entrypoints), not this checkout.
    assert workdir[WORKDIR] == {"directory": "{{ clone.directory }}/src"}
    package = project / "src/acme_data_pipelines"
    assert 'GIT_TOKEN = f"{PREFIX}-git-token"' in (package / "block_names.py").read_text()
    assert "git: GitSettings" in (package / "settings.py").read_text()
    assert "PIPELINE_GIT__ACCESS_TOKEN=" in (project / ".env.example").read_text()
    assert "Workers on other machines" in (project / "README.md").read_text()


@pytest.mark.parametrize(
    "answers",
    [
        {"prefect_backend": "local", "work_pool_type": "process"},
        {"prefect_backend": "self_hosted", "work_pool_type": "process"},
        {"prefect_backend": "cloud", "work_pool_type": "docker"},
    ],
    ids=lambda a: f"{a['prefect_backend']}-{a['work_pool_type']}",
)
def test_the_question_is_asked_only_for_cloud_process_pools(render_project, answers) -> None:
    """Elsewhere the worker has the code already (this machine, or the image): even an
    answer given on the command line changes nothing."""
    project = render_project(**answers, code_source="git", git_repository=REPOSITORY)
    assert "git_clone" not in (project / "prefect.yaml").read_text()
    assert "GitSettings" not in (project / "src/acme_data_pipelines/settings.py").read_text()
    assert "PIPELINE_GIT__" not in (project / ".env.example").read_text()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"git_repository": ""}, "is not a repository to clone"),
        ({"git_repository": "http://git.example.com/a/b.git"}, "is not a repository to clone"),
        ({"git_repository": "https://me:tok@git.example.com/a/b.git"}, "Leave credentials out"),
        ({"git_repository": REPOSITORY, "git_branch": "-x"}, "is not a branch name"),
        ({"git_repository": REPOSITORY, "git_branch": "a..b"}, "is not a valid git branch name"),
    ],
)
def test_a_wrong_repository_or_branch_is_refused(copie, answer, message) -> None:
    result = copie.copy(extra_answers={**GIT_ANSWERS, "code_source": "git", **answer})
    assert result.exception is not None
    assert message in str(result.exception)


def test_an_ssh_repository_is_accepted(render_project) -> None:
    project = render_project(
        **GIT_ANSWERS, code_source="git", git_repository="git@github.com:acme/pipelines.git"
    )
    clone = yaml.safe_load((project / "prefect.yaml").read_text())["pull"][0][CLONE]
    assert clone["repository"] == "git@github.com:acme/pipelines.git"


def set_env(project: Path, **values: str) -> None:
    env_file = project / ".env"
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    lines = [line for line in lines if line.split("=", 1)[0] not in values]
    env_file.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in values.items())]) + "\n")


@pytest.mark.slow
def test_a_worker_elsewhere_runs_the_code_it_cloned_with_the_token(
    render_project, make, env: dict[str, str], tmp_path: Path
) -> None:
    token = secrets.token_urlsafe(18)
    with git_https(tmp_path / "git", token) as git:
        repository = f"{git.url}/pipelines.git"
        project = render_project(**GIT_ANSWERS, code_source="git", git_repository=repository)
        git_env = {**env, "GIT_SSL_CAINFO": str(git.ca_file), "GIT_TERMINAL_PROMPT": "0"}
        pushed = repository.replace("https://", f"https://{token}@")
        run(["git", "init", "--quiet", "--bare", "--initial-branch=main",
             str(git.root / "pipelines.git")], tmp_path)  # fmt: skip
        git_commit_all(project, "rendered")
        run(["git", "push", "--quiet", pushed, "main"], project, env=git_env)
        # A commit only the served repository has: the worker must run it, not this checkout.
        marker = f"cloned-code-{secrets.token_hex(6)}"
        editor = tmp_path / "editor"
        run(["git", "clone", "--quiet", pushed, str(editor)], tmp_path, env=git_env)
        pipeline = editor / "src/acme_data_pipelines/flows/sales/pipeline.py"
        pipeline.write_text(pipeline.read_text() + f'\nprint("{marker}", flush=True)\n')
        run(["git", "commit", "--quiet", "--all", "-m", "marker"], editor, env=git_env)
        run(["git", "push", "--quiet", "origin", "main"], editor, env=git_env)
        checkout = project / "src/acme_data_pipelines/flows/sales/pipeline.py"
        assert marker not in checkout.read_text()

        make(project, "install")
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        outputs = tmp_path / "outputs"
        # A Cloud project checks that a key is set; the local server ignores it.
        set_env(project, PREFECT_API_URL=api, PREFECT_API_KEY="unused-by-a-local-server",
                PIPELINE_GIT__ACCESS_TOKEN=token)  # fmt: skip
        prefect = str(project / ".venv/bin/prefect")
        server = start([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                       {**env, "PREFECT_HOME": str(tmp_path / "server-home")},
                       tmp_path / "server.log")  # fmt: skip
        worker = None
        try:
            wait_for(api_healthy(api), "Prefect API", 180, server)
            # Every run reads the Secret block: deploy saves it first (as `make blocks` does).
            deployed = make(project, "deploy").stdout
            assert f"secret {TOKEN_BLOCK!r}" in deployed.splitlines()[0]
            assert token not in deployed
            secret = httpx.post(f"{api}/block_documents/filter",
                                json={"block_documents": {"name": {"any_": [
                                    "acme-data-pipelines-git-token"]}}},
                                timeout=10).json()  # fmt: skip
            assert len(secret) == 1
            assert token not in str(secret)  # stored obfuscated

            # The worker: another, empty directory; the project's Python environment.
            elsewhere = tmp_path / "worker-cwd"
            elsewhere.mkdir()
            worker_env = {**git_env, "PREFECT_API_URL": api,
                          "PIPELINE_STORAGE__ROOT": str(outputs),
                          "PREFECT_HOME": str(tmp_path / "worker-home")}  # fmt: skip
            worker_env.pop("PREFECT_API_KEY", None)
            worker = start([prefect, "worker", "start", "--pool", "acme-data-pipelines-process",
                            "--type", "process"], worker_env, tmp_path / "worker.log",
                           cwd=elsewhere)  # fmt: skip
            ran = make(project, "run", timeout=600,
                       extra_env={"PIPELINE_STORAGE__ROOT": str(outputs)})  # fmt: skip
            assert re.search(r"^\s+sales-pipeline\s+\S+\s+Completed$", ran.stdout, re.M), ran.stdout
            worker_log = (tmp_path / "worker.log").read_text()
            assert marker in worker_log  # the pushed commit ran, not this checkout
            assert token not in worker_log
            assert list(outputs.glob("reports/sales/*")), sorted(outputs.rglob("*"))
            assert not list(elsewhere.iterdir())  # each run cloned into its own scratch dir

            # A wrong token: the run fails in its pull step and says why.
            set_env(project, PIPELINE_GIT__ACCESS_TOKEN="not-the-token")
            assert f"secret {TOKEN_BLOCK!r}" in make(project, "blocks").stdout
            failed = make(project, "run", timeout=600, check=False)
            assert failed.returncode != 0
            assert re.search(r"^\s+sales-pipeline\s+\S+\s+Crashed$", failed.stdout, re.M)
            assert errors(failed.stdout) == [
                f"error: {PIPELINE} ended Crashed in its git_clone pull step: the worker could "
                f"not clone {repository} (main); check PIPELINE_GIT__ACCESS_TOKEN (then `make "
                "blocks`), the branch, and the worker's access to the host (git's own message "
                "is in the worker's log)"
            ], failed.stdout
            # git's reason, in the worker's log, without the token.
            worker_log = (tmp_path / "worker.log").read_text()
            assert "fatal: could not read Password" in worker_log
            assert "not-the-token" not in worker_log + failed.stdout

            # A public repository: no token, the Secret block saved empty, the same steps.
            public = f"{git.url}/public/pipelines.git"
            run(["git", "init", "--quiet", "--bare", "--initial-branch=main",
                 str(git.root / "public/pipelines.git")], tmp_path)  # fmt: skip
            run(["git", "push", "--quiet", public, "main"], editor, env=git_env)
            set_env(project, PIPELINE_GIT__ACCESS_TOKEN="")
            assert f"secret {TOKEN_BLOCK!r}" in make(project, "blocks").stdout
            prefect_yaml = project / "prefect.yaml"
            prefect_yaml.write_text(prefect_yaml.read_text().replace(repository, public))
            make(project, "deploy")
            ran = make(project, "run", timeout=600)
            assert re.search(r"^\s+sales-pipeline\s+\S+\s+Completed$", ran.stdout, re.M)
        finally:
            if worker is not None:
                stop_group(worker)
            stop_group(server)
