"""`make bench`: print the template's benchmark figures (median of several runs each).

Sections (`--only NAME ...` picks some; all run by default):

- scaffold: `copier copy` of the default project vs `prefect init --recipe docker`
  in an empty folder (both as command-line calls, interpreter start-up included);
- first-run: from a rendered, installed project with no server running to the first
  COMPLETED pipeline run, fresh database each time: `make up`, `make deploy`, `make run`
  step by step, against the same steps typed with Prefect's CLI (server start, work-pool
  create, deploy --all, worker start, deployment run --watch); inside `make up`, when
  the server answers and the worker polls, on a new and on an existing database; deploy
  time per deployment; where a run's time goes (created -> running -> completed) and
  what Prefect's flow-run heartbeats add to each flow run; the start-up every Prefect
  command pays; and the floor both sequences pay, with the goals next to it;
- tests: the generated project's `make test`;
- image: size of the runtime-only environment the image holds (the Dockerfile's own
  `uv sync` commands) vs the development environment of `make install`;
- server: Prefect server start-up to healthy on SQLite vs PostgreSQL, new database
  each time (migrations included);
- storage: the demo pipeline's wall time per storage choice (emulators for S3, GCS
  and Azure) against the same server, and the ratio to `none`;
- scale-out: the processing fan-out over synthetic sources on threads vs a 2-worker
  Dask LocalCluster, and the orchestration overhead per task (the pipeline vs a
  plain loop over the same functions);
- containers (needs a Docker engine): the worker image's cold and warm build, its
  size next to the same dependencies installed the common way (full python base
  image, dev dependencies, gcc), and the self-hosted stack's `make up` to healthy.

Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import httpx
import yaml

import faults
from engine import Cleanup, answers_of, engine_problem, image_size
from project import (
    TEMPLATE,
    api_time,
    dockerfile_commands,
    free_port,
    git_commit_all,
    host_python,
    project_env,
    render,
    run,
    set_api_port,
)
from services import EMULATORS, api_healthy, postgres, start, stop_group, wait_for

PROBE = Path(__file__).with_name("pipeline_probe.py")
STORAGE_PROBE = TEMPLATE / "tests" / "storage_probe.py"
DEPARTMENT = "sales"
Results = dict[str, list[float]]


def measure(label: str, repeat: int, action: Callable[[int], object]) -> list[float]:
    seconds = []
    for attempt in range(repeat):
        started = time.perf_counter()
        action(attempt)
        seconds.append(time.perf_counter() - started)
        print(f"  {label} #{attempt + 1}: {seconds[-1]:.2f}s", file=sys.stderr, flush=True)
    return seconds


def median(results: Results, name: str) -> float:
    return statistics.median(results[name])


def print_table(title: str, results: Results, unit: str = "seconds") -> None:
    print(f"\n{title + f' ({unit})':<52} {'median':>9} {'min':>9} {'max':>9} {'runs':>4}")
    for name, values in results.items():
        print(
            f"  {name:<50} {statistics.median(values):>9.2f} {min(values):>9.2f} "
            f"{max(values):>9.2f} {len(values):>4}"
        )


CREATED_TO_RUNNING = "created -> running (worker poll, process, imports)"
RUNNING_TO_COMPLETED = "running -> completed (the pipeline)"


def run_breakdown(url: str) -> dict[str, float]:
    """The newest pipeline run, from the API: how long it waited for a worker and its
    process (created -> running), ran, and how long its stages took inside it."""
    query = {"sort": "EXPECTED_START_TIME_DESC", "limit": 20}
    runs = httpx.post(f"{url}/flow_runs/filter", json=query, timeout=10).json()
    parent = next(r for r in runs if r["parent_task_run_id"] is None)
    children = [r for r in runs if r["parent_task_run_id"] and r["created"] >= parent["created"]]

    def seconds(run: dict[str, str], start: str, end: str) -> float:
        return (api_time(run[end]) - api_time(run[start])).total_seconds()

    return {
        CREATED_TO_RUNNING: seconds(parent, "created", "start_time"),
        RUNNING_TO_COMPLETED: seconds(parent, "start_time", "end_time"),
        f"  of which its {len(children)} stages, start to end": sum(
            seconds(child, "start_time", "end_time") for child in children
        ),
    }


def worker_polls(url: str, pool: str) -> Callable[[], bool]:
    """Whether a worker is ONLINE in the pool (False while the pool does not exist)."""

    def check() -> bool:
        try:
            reply = httpx.post(f"{url}/work_pools/{pool}/workers/filter", json={}, timeout=2)
        except httpx.HTTPError:
            return False
        return reply.is_success and any(w["status"] == "ONLINE" for w in reply.json())

    return check


class Bench:
    def __init__(self, work: Path, repeat: int, repeat_slow: int, args: argparse.Namespace):
        self.work, self.repeat, self.repeat_slow, self.args = work, repeat, repeat_slow, args
        self.env = project_env()
        self._default: Path | None = None

    def make(self, project: Path, *targets: str, env: dict[str, str] | None = None) -> str:
        command = ["make", "--no-print-directory", *targets]
        return run(command, project, env=env or self.env).stdout

    def installed(self, name: str, data: dict[str, object] | None = None) -> Path:
        project = render(self.work / name, data)
        git_commit_all(project, "rendered")
        self.make(project, "install")
        return project

    @property
    def default_project(self) -> Path:
        if self._default is None:
            self._default = self.installed("default")
        return self._default

    @staticmethod
    def fresh(project: Path) -> str:
        """No database, runs or outputs left, and a free port: the API's URL."""
        for state in (".prefect", ".run", "data"):
            shutil.rmtree(project / state, ignore_errors=True)
        return set_api_port(project, free_port())

    def up(self, project: Path, env: dict[str, str] | None = None) -> str:
        """`make up` on a fresh database and a free port; the API's URL."""
        url = self.fresh(project)
        self.make(project, "up", env=env)
        return url

    def up_watched(self, project: Path, url: str) -> dict[str, float]:
        """`make up` while watching the API: seconds from the command's start until the
        server answers /health, until a worker polls the pool, and until `make up` ends."""
        pool = yaml.safe_load((project / "prefect.yaml").read_text())
        pool = pool["definitions"]["work_pool"]["name"]
        started = time.perf_counter()
        command = ["make", "--no-print-directory", "up"]
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(command, cwd=project, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT)  # fmt: skip
            try:
                server = wait_for(api_healthy(url), "server", 300, process)
                worker = wait_for(worker_polls(url, pool), "worker", 300, process)
                if process.wait(timeout=300) != 0:
                    log.seek(0)
                    raise RuntimeError(f"make up failed:\n{log.read().decode(errors='replace')}")
            finally:
                if process.poll() is None:
                    process.kill()
        total = time.perf_counter() - started
        return {"server answers": server, "worker polls": server + worker, "make up": total}

    # --- sections -------------------------------------------------------------------

    def scaffold(self) -> None:
        copier = str(Path(sys.executable).with_name("copier"))

        def copier_copy(i: int) -> None:
            run(
                [copier, "copy", "--quiet", "--defaults", "--vcs-ref", "HEAD",
                 "--data", f"python_version={host_python()}", str(TEMPLATE),
                 str(self.work / f"c{i}")],
                self.work, env=self.env,
            )  # fmt: skip

        prefect = str(self.default_project / ".venv" / "bin" / "prefect")

        def prefect_init(i: int) -> None:
            folder = self.work / f"init{i}"
            folder.mkdir()
            run(
                [prefect, "--no-prompt", "init", "--recipe", "docker",
                 "--field", "image_name=acme/pipelines", "--field", "tag=latest"],
                folder, env=self.env,
            )  # fmt: skip

        results = {
            "copier copy (default project)": measure("copier copy", self.repeat, copier_copy),
            "prefect init --recipe docker": measure("prefect init", self.repeat, prefect_init),
        }
        print_table("Scaffolding", results)
        ratio = median(results, "copier copy (default project)") / median(
            results, "prefect init --recipe docker"
        )
        print(f"  copier copy / prefect init: {ratio:.2f}x")

    def first_run(self) -> None:
        """`make up deploy run` against the same steps typed with Prefect's CLI, each
        from a fresh database; inside them, where the time goes; and the floor."""
        project = self.default_project
        steps: Results = {}
        inside: Results = {}
        first: Results = {}
        deployed: Results = {}
        heartbeats: Results = {}

        def timed(name: str, action: Callable[[], object]) -> object:
            started = time.perf_counter()
            result = action()
            steps.setdefault(name, []).append(time.perf_counter() - started)
            return result

        def note(results: Results, figures: dict[str, float], prefix: str = "") -> None:
            for name, seconds in figures.items():
                results.setdefault(prefix + name, []).append(seconds)

        first_steps = ("make up (fresh database)", "make deploy", "make run (first)")

        def project_steps(_: int) -> None:
            url = self.fresh(project)
            try:
                up = self.up_watched(project, url)
                steps.setdefault(first_steps[0], []).append(up["make up"])
                note(inside, up, "new database: ")
                timed(first_steps[1], lambda: self.make(project, "deploy"))
                timed(first_steps[2], lambda: self.make(project, "run"))
                note(first, run_breakdown(url))
                timed("make run (deployed, outputs kept)", lambda: self.make(project, "run"))
                note(deployed, run_breakdown(url))
                note(heartbeats, self._heartbeat_cost(project))
                self.make(project, "down")
                note(inside, self.up_watched(project, url), "existing database: ")
            finally:
                run(["make", "down"], project, env=self.env, check=False)

        total = measure("make up deploy run", self.repeat_slow, project_steps)
        hand: Results = {}
        for attempt in range(self.repeat_slow):
            for name, seconds in self._by_hand(project, attempt).items():
                hand.setdefault(name, []).append(seconds)
            by_hand = hand["typed by hand, in all"]
            print(f"  by hand #{attempt + 1}: {by_hand[-1]:.2f}s", file=sys.stderr, flush=True)
        ours = [sum(times) for times in zip(*(steps[name] for name in first_steps), strict=True)]
        results = {**steps, "make up + deploy + run, in all": ours, **hand}
        print_table("First run, from an installed project", results)
        ratio = statistics.median(ours) / statistics.median(by_hand)
        print(f"  make up deploy run / typed by hand: {ratio:.2f}x")
        print(f"  (the loop around them, with the second run and the profiling: "
              f"{statistics.median(total):.1f}s)")  # fmt: skip
        print_table("Inside make up: seconds from its start until", inside)
        print_table("Where the first run's time goes (the first make run)", first)
        print_table("Where a deployed run's time goes (the second make run)", deployed)
        print_table("A flow with 3 subflows in one process, with and without heartbeats",
                    heartbeats)  # fmt: skip
        joins = (median(heartbeats, "heartbeats every 30 s (the project's)")
                 - median(heartbeats, "no heartbeat thread")) / 4  # fmt: skip
        print(f"  heartbeats add {joins:.2f}s to each flow run (4 per pipeline run)")

        prefect = str(project / ".venv" / "bin" / "prefect")
        python = str(project / ".venv" / "bin" / "python")
        commands = {
            "one prefect CLI call (prefect --version)": [prefect, "--version"],
            "import prefect": [python, "-c", "import prefect"],
        }
        floors = {
            name: measure(name, self.repeat, lambda _, command=command: run(command, project))
            for name, command in commands.items()
        }
        print_table("Floors every command pays", floors)

        # What any sequence pays, measured in the runs above: the server's start on a
        # new database, and the run from its creation to COMPLETED (worker poll, a new
        # process, imports, four flow runs).
        floor = statistics.median(map(sum, zip(
            inside["new database: server answers"], first[CREATED_TO_RUNNING],
            first[RUNNING_TO_COMPLETED], strict=True)))  # fmt: skip
        deployed_run = statistics.median(map(sum, zip(
            deployed[CREATED_TO_RUNNING], deployed[RUNNING_TO_COMPLETED],
            strict=True)))  # fmt: skip
        typed = statistics.median(by_hand)
        print("\nThe floor, measured in the same runs (seconds)")
        print(f"  server answers on a new database + the first run created -> completed: "
              f"{floor:.1f} = {floor / typed:.2f}x of the typed sequence "
              f"(goal 0.60x = {0.6 * typed:.1f})")  # fmt: skip
        imports = median(floors, "import prefect")
        print(f"  a deployed run, created -> completed: {deployed_run:.1f}, and make run imports "
              f"Prefect ({imports:.1f}) (goal for make run: 10.0)")  # fmt: skip

    def _heartbeat_cost(self, project: Path) -> dict[str, float]:
        """A trivial flow with 3 subflows against the project's server, with Prefect's
        flow-run heartbeats (the project's 30 s; Prefect's default is 180 s) and without."""
        python = str(project / ".venv" / "bin" / "python")
        figures = {}
        for name, switch in (("heartbeats every 30 s (the project's)", []),
                             ("no heartbeat thread", ["no-heartbeats"])):  # fmt: skip
            probe = run([python, str(PROBE), "-", "-", "subflows", str(self.repeat), *switch],
                        project, env=self.env)  # fmt: skip
            figures[name] = statistics.median(json.loads(probe.stdout.splitlines()[-1])["flow"])
        return figures

    def _by_hand(self, project: Path, attempt: int) -> dict[str, float]:
        """The CLI sequence a user would type: server, work pool, deploy, worker, run --watch.
        Each step's seconds (stopping the server and worker afterwards is not counted)."""
        prefect = str(project / ".venv" / "bin" / "prefect")
        home = self.work / f"by-hand-{attempt}"
        home.mkdir()
        port = free_port()
        url = f"http://127.0.0.1:{port}/api"
        env = {**self.env, "PREFECT_HOME": str(home), "PREFECT_API_URL": url}
        config = yaml.safe_load((project / "prefect.yaml").read_text())
        pool = config["definitions"]["work_pool"]["name"]
        pipeline = f"{DEPARTMENT}-pipeline/{DEPARTMENT}-pipeline"
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        server = start([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                       env, home / "server.log", cwd=project)  # fmt: skip
        worker = None
        try:
            wait_for(api_healthy(url), "server", 300, server)
            seconds["prefect server start (to healthy)"] = time.perf_counter() - started
            for name, command in {
                "prefect work-pool create": ["work-pool", "create", pool, "--type", "process"],
                "prefect deploy --all": ["--no-prompt", "deploy", "--all"],
                "prefect worker start & deployment run --watch": [],
            }.items():
                step = time.perf_counter()
                if not command:  # the worker in the background, then the run, watched
                    worker = start([prefect, "worker", "start", "--pool", pool], env,
                                   home / "worker.log", cwd=project)  # fmt: skip
                    command = ["deployment", "run", pipeline, "--watch", "--watch-timeout", "600"]
                run([prefect, *command], project, env=env)
                seconds[name] = time.perf_counter() - step
        finally:
            total = time.perf_counter() - started
            for process in (worker, server):
                if process is not None:
                    stop_group(process)
        return {**seconds, "typed by hand, in all": total}

    def tests(self) -> None:
        project = self.default_project

        def generated_tests(_: int) -> None:
            self.make(project, "test", "PYTEST_ARGS=-q -p no:cacheprovider")

        results = {"generated project: make test": measure(
            "make test", self.repeat_slow, generated_tests)}  # fmt: skip
        print_table("Tests", results)

    def image(self) -> None:
        project = self.installed("image", {"prefect_backend": "self_hosted", "storage": "s3"})
        runtime = self.work / "image-venv"
        syncs, _ = dockerfile_commands((project / "Dockerfile.worker").read_text())
        for sync in syncs:
            run(
                shlex.split(sync), project, env={**self.env, "UV_PROJECT_ENVIRONMENT": str(runtime)}
            )
        print("\nEnvironments of a self-hosted, docker-pool, s3 project (MB, packages)")
        sizes = {}
        for name, venv in (("image: runtime only (uv sync --no-dev)", runtime),
                           ("make install: runtime + dev tools", project / ".venv")):  # fmt: skip
            size = sum(
                f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink()
            )
            packages = len(list(venv.glob("lib/python*/site-packages/*.dist-info")))
            sizes[name] = size
            print(f"  {name:<50} {size / 1e6:>9.1f} {packages:>9}")
        small, large = sizes.values()
        print(f"  runtime / development: {small / large:.2f}x")

    def server(self) -> None:
        prefect = str(self.default_project / ".venv" / "bin" / "prefect")

        def start_to_healthy(database_url: str | None = None) -> float:
            home = Path(tempfile.mkdtemp(prefix="prefect-home-", dir=self.work))
            env = {**self.env, "PREFECT_HOME": str(home)}
            env.pop("PREFECT_API_URL", None)
            if database_url:
                env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
            port = free_port()
            command = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
            process = start(command, env, home / "server.log")
            try:
                seconds = wait_for(
                    api_healthy(f"http://127.0.0.1:{port}/api"), "server", 300, process
                )
            finally:
                stop_group(process)
            print(f"  server: {seconds:.2f}s", file=sys.stderr, flush=True)
            return seconds

        def on_postgres(attempt: int) -> float:
            with postgres("prefect", "bench", f"prefect{attempt}") as database:
                return start_to_healthy(database.url)

        runs = range(self.repeat_slow)
        results = {
            "SQLite (new file)": [start_to_healthy() for _ in runs],
            "PostgreSQL (new database)": [on_postgres(attempt) for attempt in runs],
        }
        print_table("Server start-up to healthy", results)

    def storage(self) -> None:
        results: Results = {}
        for storage in ("none", *sorted(EMULATORS)):
            project = self.installed(f"storage-{storage}", {"storage": storage})
            python = str(project / ".venv" / "bin" / "python")
            package = next((project / "src").iterdir()).name
            emulated = EMULATORS[storage](self.work) if storage in EMULATORS else nullcontext()
            with emulated as emulator:
                env = {**self.env, **(emulator.env if emulator else {})}
                settings = {}
                if emulator:
                    run([python, str(STORAGE_PROBE), storage, "bench", "create"], project,
                        env={**env, "PROBE_ENDPOINT": emulator.endpoint})  # fmt: skip
                    settings = {"PIPELINE_STORAGE__BUCKET": "bench"}
                    if storage == "s3":
                        settings["PIPELINE_STORAGE__ENDPOINT_URL"] = emulator.endpoint
                (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
                try:
                    self.up(project, env)
                    self.make(project, "blocks", env=env)
                    probe = run([python, str(PROBE), package, DEPARTMENT, "pipeline",
                                 str(self.repeat)], project, env=env)  # fmt: skip
                finally:
                    run(["make", "down"], project, env=env, check=False)
            results[storage] = json.loads(probe.stdout.splitlines()[-1])["pipeline"]
            print(f"  storage {storage}: {results[storage]}", file=sys.stderr, flush=True)
        print_table("Demo pipeline per storage choice", results)
        for storage in results:
            print(f"  {storage} / none: {median(results, storage) / median(results, 'none'):.2f}x")

    def scale_out(self) -> None:
        project = self.installed("dask", {"task_runner": "dask"})
        python = str(project / ".venv" / "bin" / "python")
        package = next((project / "src").iterdir()).name
        env = {**self.env, "PIPELINE_COMPUTE__RUNNER": "threads"}
        sources, rows = self.args.fanout_sources, self.args.fanout_rows
        try:
            self.up(project, env)
            probe = run([python, str(PROBE), package, DEPARTMENT, "fanout", str(self.repeat_slow),
                         str(sources), str(rows)], project, env=env, timeout=3600)  # fmt: skip
        finally:
            run(["make", "down"], project, env=env, check=False)
        results = json.loads(probe.stdout.splitlines()[-1])
        # A snapshot and a process task per source, two listings, the summary, the manifest.
        tasks = 2 * results.pop("tasks") + 4
        print_table(f"Fan-out: {sources} sources x {rows} rows, {os.cpu_count()} cores", results)
        threads = median(results, "processing: threads")
        for name in ("processing: dask, cluster per run", "processing: dask, existing cluster"):
            speed_up = threads / median(results, name)
            print(f"  threads / {name.split(': ')[1]}: {speed_up:.2f}x speed-up")
        overhead = median(results, "pipeline (Prefect, threads)") - median(
            results, "plain loop, same functions"
        )
        print(f"  orchestration overhead: {overhead:.2f}s over {tasks} task runs "
              f"= {1000 * overhead / tasks:.0f} ms per task")  # fmt: skip

    def docker_stack(self, section: str, project_name: str) -> Path | None:
        """An installed self-hosted, docker-pool project, or None (said) without an engine."""
        problem = engine_problem()
        if problem is not None:
            print(f"\n{section.capitalize()}: skipped, {problem}")
            return None
        answers = {"prefect_backend": "self_hosted", "work_pool_type": "docker",
                   "project_name": project_name}  # fmt: skip
        project = self.installed(section, answers)
        git_commit_all(project, "Lock dependencies")
        return project

    def containers(self) -> None:
        project = self.docker_stack("containers", "Bench Stack")
        if project is None:
            return
        package = next((project / "src").iterdir()).name
        image = "bench-stack-image"
        build = ["docker", "build", "--pull", "-f", "Dockerfile.worker", "-t", image, "."]
        touched = project / "src" / package / "core" / "layout.py"
        original = touched.read_text()

        def warm(attempt: int) -> None:  # only the project's code changed
            touched.write_text(f"{original}# edit {attempt}\n")
            run(build, project, env=self.env)

        try:
            results = {
                "cold build (no cache)": measure(
                    "cold build", self.repeat_slow,
                    lambda _: run([*build, "--no-cache"], project, env=self.env),
                ),
                "warm build (a source file changed)": measure("warm build", self.repeat, warm),
            }  # fmt: skip
            touched.write_text(original)
            print_table("Worker image build", results)
            self._image_sizes(project, image)
            self._stack_start(project)
        finally:
            run(["docker", "compose", "down", "--volumes", "--rmi", "all"], project,
                env=self.env, check=False)  # fmt: skip
            run(["docker", "image", "rm", "--force", image, f"{image}-common"], project,
                env=self.env, check=False)  # fmt: skip

    def _image_sizes(self, project: Path, image: str) -> None:
        """The image next to the usual way: full base image, gcc, dev dependencies, one stage."""
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        python = answers["python_version"]
        base = f"python:{python}"
        if run(["docker", "pull", base], project, env=self.env, check=False).returncode != 0:
            base = f"python:{python}-slim-trixie"  # no full image within reach
        extras = ",".join(["docker", "server"])
        (project / "Dockerfile.common").write_text(
            f"FROM {base}\n"
            "RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*\n"
            "WORKDIR /app\nCOPY . .\n"
            f'RUN pip install --no-cache-dir -e ".[{extras}]" pytest mypy ruff copier pre-commit\n'
            'CMD ["prefect", "worker", "start"]\n'
        )
        try:  # (Docker always sends the Dockerfile, whatever .dockerignore says)
            run(["docker", "build", "--pull", "-f", "Dockerfile.common", "-t", f"{image}-common",
                 "."], project, env=self.env, timeout=1800)  # fmt: skip
        finally:
            (project / "Dockerfile.common").unlink()
        ours, common = image_size(image), image_size(f"{image}-common")
        base_size = image_size(base)
        print(f"\nImage size (MB; base {base}: {base_size / 1e6:.0f} MB)")
        print(f"  {'Dockerfile.worker (slim, runtime only, 2 stages)':<50} {ours / 1e6:>9.0f}")
        print(f"  {'common: ' + base + ' + gcc + dev deps':<50} {common / 1e6:>9.0f}")
        print(f"  ours / common: {ours / common:.2f}x")

    def _stack_start(self, project: Path) -> None:
        """`make up` to every service healthy: on existing volumes, and on new ones."""
        set_api_port(project, free_port())
        self.make(project, "up")  # builds the image, creates .env and the volumes

        def restart(_: int) -> None:
            self.make(project, "down")
            self.make(project, "up")

        def fresh(_: int) -> None:
            run(["docker", "compose", "down", "--volumes"], project, env=self.env)
            self.make(project, "up")

        results = {
            "make up, existing volumes": measure("make up", self.repeat_slow, restart),
            "make up, new volumes (migrations)": measure("make up (new)", self.repeat_slow, fresh),
        }
        print_table("Self-hosted stack: make up to all services healthy", results)

    def faults(self) -> None:
        project = self.docker_stack("faults", "Bench Faults")
        if project is None:
            return
        cleanup = Cleanup(self.env)
        cleanup.stacks.append(project)
        cleanup.images.append(str(answers_of(project)["image_name"]))
        rows = []
        try:
            stack = faults.start_stack(project, self.env, set_api_port(project, free_port()))
            for name, driver in faults.SCENARIOS.items():
                print(f"  {name} ...", file=sys.stderr, flush=True)
                outcome = driver(stack)
                states = sorted({f"{r.flow.split('-', 1)[1]} {r.state.lower()}"
                                 for r in outcome.runs if r.state != "COMPLETED"})  # fmt: skip
                rows.append((name, outcome.recovery_seconds, ", ".join(states) or "completed"))
        finally:
            cleanup.close()
        print(f"\n{'Fault (one run each)':<40} {'recovery (s)':>12}  outcome")
        for name, seconds, outcome_text in rows:
            print(f"  {name:<38} {seconds:>12.1f}  {outcome_text}")


SECTIONS = ("scaffold", "first-run", "tests", "image", "server", "storage", "scale-out",
            "containers", "faults")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fast figures")
    parser.add_argument("--repeat-slow", type=int, default=3, help="runs of the slow figures")
    parser.add_argument("--fanout-sources", type=int, default=8)
    parser.add_argument("--fanout-rows", type=int, default=50_000)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    bench = Bench(work, args.repeat, args.repeat_slow, args)
    try:
        for section in SECTIONS:
            if section in args.only:
                print(f"{section} ...", file=sys.stderr, flush=True)
                getattr(bench, section.replace("-", "_"))()
                sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
