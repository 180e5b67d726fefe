"""Containers and workflows, checked statically: the fast first line before test_engine.py.

Compose files against the Compose specification and Compose v2 itself, the
Dockerfile with hadolint, workflows with actionlint, zizmor and their JSON
schema, and every rendered tree with a secret scanner.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from project import BIN, COMPOSE_BINARY

POOLS = ("process", "docker", "kubernetes")
STORAGES = ("none", "s3")


def tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.fixture
def projects(render_project):
    """A rendered project for a backend, pool, storage and CI answer."""

    def _get(backend: str, pool: str, storage: str = "none", ci: str = "github") -> Path:
        return render_project(prefect_backend=backend, work_pool_type=pool, storage=storage, ci=ci)

    return _get


def write_env(project: Path) -> None:
    """The secrets `make up` generates (same keys, throwaway values)."""
    (project / ".env").write_text(
        "POSTGRES_PASSWORD=throwaway-password\nREDIS_PASSWORD=throwaway-redis\n"
        "PREFECT_API_AUTH_STRING=admin:throwaway\n"
        "DOCKER_GID=999\n"
    )


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("pool", POOLS)
def test_the_compose_file_is_valid_compose(projects, pool: str, storage: str) -> None:
    project = projects("self_hosted", pool, storage)
    schema = tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml",
                  cwd=project)  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr

    without_env = subprocess.run(
        [COMPOSE_BINARY, "-f", "compose.yaml", "config", "-q"], cwd=project,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert without_env.returncode != 0
    # Compose names the first missing variable it meets, in no fixed order: each says
    # that `make up` fills it (.env's secrets, or the docker group of a docker pool).
    assert re.search(
        r"required variable \w+ is missing a value: "
        r"run make up to (generate \.env|detect the docker group)",
        without_env.stderr,
    ), without_env.stderr

    write_env(project)
    try:
        config = subprocess.run(
            [COMPOSE_BINARY, "-f", "compose.yaml", "config", "-q"], cwd=project,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert config.returncode == 0, config.stderr
    finally:
        (project / ".env").unlink()


@pytest.mark.parametrize("pool", POOLS)
def test_the_compose_stack_is_secure_by_default(projects, pool: str) -> None:
    project = projects("self_hosted", pool)
    text = (project / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {
        "postgres", "redis", "prefect-server", "prefect-services", "worker", "pg-client",
    }  # fmt: skip
    # `up` starts the bundled database only in its profile (make up keeps COMPOSE_PROFILES in
    # .env in step with PREFECT_DATABASE_URL), and pg-client (make backup/restore) never.
    profiles = {name: spec.get("profiles") for name, spec in services.items() if "profiles" in spec}
    assert profiles == {"postgres": ["bundled-database"], "pg-client": ["tools"]}
    env_example = (project / ".env.example").read_text().splitlines()
    assert "COMPOSE_PROFILES=bundled-database" in env_example
    assert "pg-client" not in {d for s in services.values() for d in s.get("depends_on", {})}
    assert services["prefect-server"]["depends_on"]["postgres"]["required"] is False
    for name in ("prefect-server", "prefect-services", "pg-client"):  # a database on the host
        assert services[name]["extra_hosts"] == ["host.docker.internal:host-gateway"], name
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        for dependency in service.get("depends_on", {}).values():
            assert dependency["condition"] == "service_healthy", name
        # `up --wait` refuses a service without a health check: none may lack one
        # (the worker's comes from the image's HEALTHCHECK).
        healthcheck = service.get("healthcheck", {})
        assert not healthcheck.get("disable"), name
        assert healthcheck.get("test") or name in {"worker", "pg-client"}, name
        mounts = [str(v) for v in service.get("volumes", [])]
        has_socket = any("docker.sock" in v for v in mounts)
        assert has_socket is (name == "worker" and pool == "docker"), (name, mounts)
    # No password literal: every secret is interpolated from the git-ignored .env.
    for secret in (
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "PREFECT_SERVER_API_AUTH_STRING",
        "PREFECT_API_AUTH_STRING",
    ):
        for value in re.findall(rf"{secret}: (\S+)", text):
            assert value.startswith("${"), (secret, value)
    # The database and Redis sit on an internal network that the API's network (the
    # worker's and the flow runs') does not reach; Redis requires a password.
    assert compose["networks"]["backend"]["internal"] is True
    networks = {name: set(spec.get("networks", ["default"])) for name, spec in services.items()}
    # `egress` is the way out to an external PostgreSQL; flow runs (default) never join it.
    assert networks == {
        "postgres": {"backend"}, "redis": {"backend"}, "prefect-services": {"backend", "egress"},
        "prefect-server": {"default", "backend"}, "worker": {"default"},
        "pg-client": {"backend", "egress"},
    }  # fmt: skip
    assert services["pg-client"]["user"] == "postgres"  # not root
    assert services["redis"]["command"][-2] == "--requirepass"
    assert services["redis"]["command"][-1].startswith("${REDIS_PASSWORD:?")
    server_env = services["prefect-server"]["environment"]
    # The external database's URL, else the bundled one's: the password only from .env.
    assert server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith(
        "${PREFECT_DATABASE_URL:-postgresql+asyncpg://prefect:${POSTGRES_PASSWORD:?"
    )
    assert server_env["PREFECT_REDIS_MESSAGING_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert server_env["PREFECT_SERVER_EVENTS_MESSAGING_BROKER"] == "prefect_redis.messaging"
    assert server_env["PREFECT_SERVER_EVENTS_MESSAGING_CACHE"] == "prefect_redis.messaging"
    assert server_env["PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"] == "prefect_redis.ordering"
    assert server_env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"
    assert "--no-services" in services["prefect-server"]["command"]
    assert services["prefect-services"]["command"][-3:] == ["server", "services", "start"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert re.fullmatch(r"postgres:\d+\.\d+\S*", services["postgres"]["image"])

    makefile = (project / "Makefile").read_text()
    down = re.search(r"^down:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert down is not None
    assert "--volumes" not in down.group(1)
    assert "-v" not in down.group(1).split()
    destroy = re.search(r"^destroy:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert destroy is not None
    assert "read -r" in destroy.group(1)
    assert "--volumes" in destroy.group(1)
    # Both stop every profile: a bundled database started before PREFECT_DATABASE_URL was set.
    for recipe in (down.group(1), destroy.group(1)):
        assert "COMPOSE_PROFILES='*' $(COMPOSE) down" in recipe


@pytest.mark.parametrize(
    ("backend", "pool"),
    [("self_hosted", "process"), ("self_hosted", "docker"), ("cloud", "docker"),
     ("local", "kubernetes")],
)  # fmt: skip
def test_the_worker_image_is_lint_free_and_non_root(projects, backend: str, pool: str) -> None:
    project = projects(backend, pool, "s3")
    lint = tool("hadolint", "Dockerfile.worker", cwd=project)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    dockerfile = (project / "Dockerfile.worker").read_text()
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user
    assert user[-1].split(":")[0] not in {"0", "root"}
    # A pinned official base image: python:<X.Y>-slim-<debian release>, both stages.
    assert re.search(r"^ARG PYTHON_VERSION=3\.\d+$", dockerfile, re.MULTILINE)
    assert len(re.findall(r"^FROM python:\$\{PYTHON_VERSION\}-slim-[a-z]+", dockerfile, re.M)) == 2
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "--extra s3" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    assert "WORKDIR /app" in dockerfile
    # podman and buildah keep HEALTHCHECK only in the docker image format.
    assert re.search(
        r"^export BUILDAH_FORMAT \?= docker$", (project / "Makefile").read_text(), re.M
    )

    ignore = (project / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :]  # everything is excluded, then an allowlist
    allowed = [line[1:] for line in ignore if line.startswith("!")]
    for private in (".env", ".git", ".venv", "data", ".run", ".prefect"):
        assert not any(a.rstrip("/") == private or private.startswith(a) for a in allowed)


def test_process_pools_without_a_stack_have_no_image(projects) -> None:
    for backend in ("local", "cloud"):
        project = projects(backend, "process")
        assert not (project / "Dockerfile.worker").exists()
        assert not (project / ".dockerignore").exists()
        assert not (project / "compose.yaml").exists()


@pytest.mark.parametrize(
    ("backend", "pool"),
    [("local", "process"), ("self_hosted", "docker"), ("cloud", "docker"),
     ("cloud", "kubernetes"), ("self_hosted", "process")],
)  # fmt: skip
def test_workflows_pass_actionlint_zizmor_and_their_schema(projects, backend: str, pool: str):
    project = projects(backend, pool)
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    names = {w.name for w in workflows}
    assert names == ({"ci.yml", "deploy.yml"} if pool != "process" else {"ci.yml"})
    paths = [str(w) for w in workflows]
    for result in (
        tool("actionlint", *paths, cwd=project),
        tool("zizmor", "--offline", "--no-progress", *paths, cwd=project),
        tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *paths,
             cwd=project),
    ):  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    if "deploy.yml" in names:
        deploy = (project / ".github/workflows/deploy.yml").read_text()
        assert "IMAGE_TAG: ${{ github.sha }}" in deploy
        assert "prefect --no-prompt deploy --all" in deploy
        assert "secrets.PREFECT_API_URL" in deploy


def test_no_ci_means_no_workflows(projects) -> None:
    assert not (projects("local", "process", ci="none") / ".github").exists()


def scan_for_secrets(tree: Path) -> dict[str, list[str]]:
    result = tool("detect-secrets", "scan", "--all-files", cwd=tree)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["results"]
    return {name: [s["type"] for s in items] for name, items in found.items()}


@pytest.mark.parametrize(
    ("backend", "pool", "storage"),
    [("local", "process", "none"), ("self_hosted", "docker", "s3"),
     ("cloud", "kubernetes", "gcs"), ("self_hosted", "process", "azure")],
)  # fmt: skip
def test_no_secret_in_any_rendered_file_and_env_is_git_ignored(
    projects, tmp_path: Path, backend: str, pool: str, storage: str
) -> None:
    project = projects(backend, pool, storage)
    assert scan_for_secrets(project) == {}

    # The scanner does find a planted secret, so the empty result above means something.
    planted = tmp_path / "planted"
    shutil.copytree(project, planted)
    (planted / "settings.env").write_text(
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
    )
    assert "settings.env" in scan_for_secrets(planted)

    subprocess.run(["git", "init", "--quiet"], cwd=planted, check=True)
    (planted / ".env").write_text("PREFECT_API_KEY=pnu_secret\n")
    ignored = subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=planted, check=False)
    assert ignored.returncode == 0
