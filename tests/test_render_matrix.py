"""Every backend x storage x pool combination renders the files that matter."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

BACKENDS = ("local", "self_hosted", "cloud")
STORAGES = ("none", "s3", "gcs", "azure")
POOLS = ("process", "docker", "kubernetes")
MATRIX = list(itertools.product(BACKENDS, STORAGES, POOLS))
DEPARTMENTS = ["sales", "finance"]
# Cloud process pools ask where the code comes from: half of them clone it from git.
GIT_STORAGES = ("gcs", "azure")
# Prefect's own templating survives rendering; anything else in braces is a bug.
PREFECT_PLACEHOLDER = re.compile(
    r"\{\{ *(\$[A-Z_]+|build_image\.[a-z_]+|webhook_url|subject|body|clone\.directory"
    r"|prefect\.blocks\.secret\.[a-z0-9-]+) *\}\}"
)


@pytest.fixture
def rendered(render_project):
    """A project for one backend x storage x pool combination, with two departments."""

    def _render(backend: str, storage: str, pool: str) -> Path:
        git = backend == "cloud" and pool == "process" and storage in GIT_STORAGES
        return render_project(
            prefect_backend=backend, storage=storage, work_pool_type=pool, departments=DEPARTMENTS,
            **({"code_source": "git", "git_repository": "https://git.example.com/a/p.git"}
               if git else {}),
        )  # fmt: skip

    return _render


@pytest.mark.parametrize(("backend", "storage", "pool"), MATRIX, ids=["-".join(c) for c in MATRIX])
def test_combination(rendered, backend: str, storage: str, pool: str) -> None:
    project = rendered(backend, storage, pool)
    image_pool = pool != "process"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["prefect_backend"], answers["storage"], answers["work_pool_type"]) == (
        backend, storage, pool,
    )  # fmt: skip
    assert ("image_name" in answers) is image_pool
    if image_pool:  # a Cloud user's workers cannot pull from a registry on localhost
        registry = "ghcr.io/your-org/" if backend == "cloud" else "localhost:5000/"
        assert answers["image_name"].startswith(registry)

    # prefect.yaml: one deployment per department flow, image steps only for image pools
    prefect_yaml = yaml.safe_load((project / "prefect.yaml").read_text())
    names = [d["name"] for d in prefect_yaml["deployments"]]
    stages = ("ingestion", "processing", "analysis", "pipeline")
    assert names == [f"{d}-{s}" for d in DEPARTMENTS for s in stages]
    for deployment in prefect_yaml["deployments"]:
        assert deployment["work_pool"]["name"] == answers["work_pool_name"]
        department, stage = deployment["name"].rsplit("-", 1)
        assert deployment["entrypoint"] == (
            f"{answers['package_name']}.flows.{department}.{stage}:{stage}"
        )
        assert f"department:{department}" in deployment["tags"]
        assert ("schedules" in deployment) is (stage == "pipeline")
        assert not {"build", "push"} & set(deployment)
    has_dockerfile = image_pool or backend == "self_hosted"
    if image_pool:
        (build,) = prefect_yaml["build"]
        step = build["prefect_docker.deployments.steps.build_docker_image"]
        assert step["image_name"] == answers["image_name"]
        assert step["dockerfile"] == "Dockerfile.worker"
        assert step["tag"] == "{{ $IMAGE_TAG }}"
        assert "prefect_docker.deployments.steps.push_docker_image" in prefect_yaml["push"][0]
        assert step["forcerm"] is True  # no intermediate build containers left behind
        job_variables = prefect_yaml["deployments"][0]["work_pool"]["job_variables"]
        assert job_variables["image"] == "{{ build_image.image }}"
        assert set(job_variables) == {"image"}  # the rest is the pool's, fixed
    else:
        assert not {"build", "push"} & set(prefect_yaml)
    if has_dockerfile:
        pull = prefect_yaml["pull"][0]["prefect.deployments.steps.set_working_directory"]
        assert pull["directory"] == "{{ $PIPELINE_WORKDIR }}"
        assert "PIPELINE_WORKDIR=/app" in (project / "Dockerfile.worker").read_text()
    elif backend == "cloud" and storage in GIT_STORAGES:
        clone, workdir = prefect_yaml["pull"]
        assert clone["prefect.deployments.steps.git_clone"]["repository"] == (
            "https://git.example.com/a/p.git"
        )
        assert workdir["prefect.deployments.steps.set_working_directory"] == {
            "directory": "{{ clone.directory }}/src"
        }
    else:
        assert "pull" not in prefect_yaml
    assert (project / "Dockerfile.worker").exists() is has_dockerfile
    assert (project / ".dockerignore").exists() is has_dockerfile
    assert (project / "compose.yaml").exists() is (backend == "self_hosted")
    assert (project / ".github/workflows/deploy.yml").exists() is image_pool
    kubernetes = project / "deploy" / "kubernetes"
    assert kubernetes.exists() is (pool == "kubernetes")
    docker_template = project / "deploy" / "docker" / "base-job-template.json"
    assert docker_template.exists() is (pool == "docker")
    if pool == "docker":
        template = json.loads(docker_template.read_text())
        job, variables = template["job_configuration"], template["variables"]
        # A run chooses its image, env and command; nothing that widens its reach.
        assert variables["additionalProperties"] is False
        locked = {"networks", "network_mode", "volumes", "privileged", "container_create_kwargs",
                  "mem_limit", "memswap_limit", "auto_remove"}  # fmt: skip
        assert not locked & set(variables["properties"])
        assert job["privileged"] is False
        assert job["auto_remove"] is True
        assert job["mem_limit"] == job["memswap_limit"] == "2g"
        assert job["container_create_kwargs"]["cap_drop"] == ["ALL"]
        assert job["networks"] == ([f"{answers['project_slug']}_default"]
                                   if backend == "self_hosted" else [])  # fmt: skip
        volume = f"{answers['project_slug']}_pipeline-data:/app/data"
        assert job["volumes"] == ([volume] if storage == "none" else [])
    if pool == "kubernetes":
        assert {p.name for p in kubernetes.iterdir()} == {
            "base-job-template.json", "worker-values.yaml", "manifests",
        }  # fmt: skip
        processing = prefect_yaml["deployments"][1]
        assert processing["work_pool"]["job_variables"]["cpu_request"] == "1"

    # dependencies and install
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    extras = ({storage} - {"none"}) | ({"docker"} if image_pool else set())
    extras |= {"kubernetes"} if pool == "kubernetes" else set()
    extras |= {"server"} if backend == "self_hosted" else set()
    assert set(pyproject["project"].get("optional-dependencies", {})) == extras
    assert any(dep.startswith("prefect>=3") for dep in pyproject["project"]["dependencies"])
    makefile = (project / "Makefile").read_text()
    assert ("EXTRAS := --extra " + storage in makefile) is (storage != "none")
    package = project / "src" / answers["package_name"]
    settings = (package / "settings.py").read_text()
    backends = '"local"' if storage == "none" else f'"local", "{storage}"'
    assert f"StorageBackend = Literal[{backends}]" in settings  # only what the project can use
    assert f'backend: StorageBackend = "{"local" if storage == "none" else storage}"' in settings
    # One module per storage back end, and only the chosen one.
    assert {p.name for p in package.glob("storage_*.py")} == (
        set() if storage == "none" else {f"storage_{storage}.py"}
    )
    ops = {p.name for p in (package / "ops").glob("*.py")}
    assert ops >= {"__init__.py", "checks.py", "deploy.py", "run.py", "update.py"}
    assert ("env_file.py" in ops) is (backend == "self_hosted")
    assert ("database.py" in ops) is (backend == "self_hosted")
    assert ("healthcheck.py" in ops) is has_dockerfile
    assert ("kubernetes.py" in ops) is (pool == "kubernetes")

    # backend wiring: Prefect's server and worker for local, only the worker for Cloud
    assert ("prefect worker start --pool" in makefile) is (backend != "self_hosted")
    assert ("prefect server start $$address" in makefile) is (backend == "local")
    assert ("$(COMPOSE) up" in makefile) is (backend == "self_hosted")
    prefect_toml = tomllib.loads((project / "prefect.toml").read_text())
    assert ("api" in prefect_toml) is (backend != "cloud")
    assert prefect_toml["flows"]["heartbeat_frequency"] == 30
    env_example = (project / ".env.example").read_text()
    assert ("PREFECT_API_KEY=" in env_example) is (backend == "cloud")
    assert ".env" in (project / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize(
    ("backend", "storage", "pool"), MATRIX[::5], ids=["-".join(c) for c in MATRIX[::5]]
)
def test_rendered_files_are_well_formed(rendered, backend: str, storage: str, pool: str) -> None:
    project = rendered(backend, storage, pool)
    for path in project.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        text = path.read_text()
        assert "{%" not in text, path
        if path.name == "base-job-template.json":
            continue  # Prefect's job-template placeholders (checked by the project's tests)
        braces = re.findall(r"(?<!\$)\{\{[^}]*\}\}", text)  # ${{ }} is GitHub's
        leftovers = [m for m in braces if not PREFECT_PLACEHOLDER.fullmatch(m)]
        assert not leftovers, (path, leftovers)
        if path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix in {".yaml", ".yml"}:
            yaml.safe_load(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)


@pytest.mark.parametrize(("backend", "storage", "pool"), MATRIX, ids=["-".join(c) for c in MATRIX])
def test_the_readme_layout_names_every_module_of_the_package(
    rendered, backend: str, storage: str, pool: str
) -> None:
    """The README's "Project layout" is how a newcomer finds their way: every module and
    folder of the package (and of core/) is named there, and nothing that is not rendered."""
    project = rendered(backend, storage, pool)
    readme = (project / "README.md").read_text()
    layout = readme.split("## Project layout", 1)[1].split("```", 2)[1]
    package = next((project / "src").iterdir())
    named = set(re.findall(r"\b([a-z0-9_]+\.py|[a-z0-9_]+/)", layout))
    listed = {p.name + ("/" if p.is_dir() else "") for p in package.iterdir()
              if p.name not in {"__init__.py", "__pycache__"}}  # fmt: skip
    assert listed - named == set(), "modules the README's layout does not name"
    core = {p.stem for p in (package / "core").glob("*.py") if p.stem != "__init__"}
    core_line = layout.split("core/", 1)[1].split("tasks.py", 1)[0]
    assert {m for m in core if m not in core_line} == set(), "core modules the layout leaves out"
    modules = {name for name in named if name.endswith(".py")}
    rendered_files = {p.name for p in package.rglob("*.py")}
    assert modules - rendered_files == set(), "the layout names modules that are not rendered"


@pytest.mark.parametrize("task_runner", ["threads", "dask"])
def test_the_task_runner_answer_wires_the_processing_stage(
    render_project, task_runner: str
) -> None:
    project = render_project(task_runner=task_runner)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    package = project / "src" / answers["package_name"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    extras = pyproject["project"].get("optional-dependencies", {})
    assert ("dask" in extras) is (task_runner == "dask")
    runners = (package / "task_runners.py").read_text()
    assert ("DaskTaskRunner" in runners) is (task_runner == "dask")
    stages = (package / "stages.py").read_text()
    assert 'compute_task_runner(settings), task, "raw_key"' in stages
    assert (project / "tests/flows/test_dask.py").exists() is (task_runner == "dask")
    assert ("--extra dask" in (project / "Makefile").read_text()) is (task_runner == "dask")


def run_make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's make, with `true` standing in for uv (`-n` shows what a target runs)."""
    return subprocess.run(
        ["make", "--no-print-directory", *args, "UV=true"],
        cwd=project, text=True, capture_output=True, check=False,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")},
    )  # fmt: skip


@pytest.mark.parametrize(("backend", "storage", "pool"), MATRIX, ids=["-".join(c) for c in MATRIX])
def test_every_make_target_runs_its_own_command(
    rendered, backend: str, storage: str, pool: str
) -> None:
    project = rendered(backend, storage, pool)
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    helped = run_make(project, "help")
    assert helped.returncode == 0, helped.stderr
    assert "\x1b" not in helped.stdout  # no colour codes when the output is not a terminal
    targets = re.findall(r"^  (?:\x1b\[36m)?([a-z0-9-]+)", helped.stdout, re.MULTILINE)
    expected = {"help", "install", "lint", "format", "test", "check", "up", "down", "status",
                "logs", "deploy", "pool", "run", "run-local", "runs", "run-logs", "blocks",
                "update", "department"}  # fmt: skip
    expected |= {"destroy", "backup", "restore"} if backend == "self_hosted" else set()
    expected |= {"k8s-apply", "k8s-secrets", "k8s-worker"} if pool == "kubernetes" else set()
    assert set(targets) == expected

    # update and department run without syncing the environment: it must exist.
    no_venv = run_make(project, "-n", "update")
    assert no_venv.returncode != 0
    assert ".venv not found: run `make install` first" in no_venv.stderr
    (project / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    (project / ".venv" / "bin" / "python").touch()

    # Each verb runs its own command and no other target's recipe leaks into it.
    ops_module = {"up": None, "down": None, "deploy": "deploy", "run": "run",
                  "blocks": "deploy", "update": "update"}  # fmt: skip
    if backend == "self_hosted":
        ops_module |= {"backup": "database", "restore": "database"}
    for target, module in ops_module.items():
        result = run_make(project, "-n", target)
        assert result.returncode == 0, (target, result.stderr)
        if module:
            assert f"-m {package}.ops.{module}" in result.stdout, (target, result.stdout)
        assert "update --department" not in result.stdout, target
    # Every option a target passes to an ops command is one that command declares.
    database = ("backup", "restore") if backend == "self_hosted" else ()
    for target in ("up", "deploy", "pool", "run", "blocks", "check", *database):
        result = run_make(project, "-n", target, "SOURCES=a.csv", "REFRESH=1", "PARTITION=p",
                          "FILE=backups/x.dump", "YES=1")  # fmt: skip
        for module, options in re.findall(rf"-m {package}\.ops\.(\w+) (.*)", result.stdout):
            source = (project / "src" / package / "ops" / f"{module}.py").read_text()
            for option in re.findall(r"(--[a-z][a-z-]*)", options):
                assert f'"{option}"' in source, (target, module, option)
    missing = run_make(project, "-n", "department")
    assert missing.returncode != 0
    assert "NAME is required" in missing.stderr
    added = run_make(project, "-n", "department", "NAME=marketing")
    assert f"-m {package}.ops.update --department marketing" in added.stdout


def test_each_department_gets_demo_data_of_its_own(render_project) -> None:
    departments = ["sales", "finance", "marketing"]
    columns = ("record_id", "occurred_on", "category", "quantity", "unit_price")
    project = render_project(departments=departments)
    flows = next((project / "src").iterdir()) / "flows"

    def quantities(text: str) -> list[str]:
        return [row["quantity"] for row in csv.DictReader(io.StringIO(text))]

    demo = {
        department: {p.name: p.read_text() for p in (flows / department / "demo_data").glob("*")}
        for department in departments
    }
    names = {tuple(sorted(files)) for files in demo.values()}
    assert names == {("north.csv", "online.csv", "south.csv")}
    for first, second in itertools.combinations(departments, 2):
        for name in demo[first]:
            a, b = demo[first][name], demo[second][name]
            assert a != b, (first, second, name)
            assert a.splitlines()[0] == b.splitlines()[0] == ",".join(columns)
            assert len(quantities(a)) == len(quantities(b)) > 10  # the same shape, other figures
    assert not any("{" in text for files in demo.values() for text in files.values())
