"""`make bench`: print the template's benchmark figures (median of several runs each).

- scaffold: `copier copy` of the default project vs `prefect init --recipe docker`
  in an empty folder (both as command-line calls, interpreter start-up included);
- first run: from a rendered, installed project with no server running to the first
  COMPLETED pipeline run (`make up`, `make deploy`, `make run`), fresh database each time;
- tests: the generated project's `make test`.

Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from project import (
    TEMPLATE,
    free_port,
    git_commit_all,
    host_python,
    project_env,
    render,
    run,
    set_api_port,
)


def measure(label: str, repeat: int, action: Callable[[int], None]) -> list[float]:
    seconds = []
    for attempt in range(repeat):
        started = time.perf_counter()
        action(attempt)
        seconds.append(time.perf_counter() - started)
        print(f"  {label} #{attempt + 1}: {seconds[-1]:.2f}s", file=sys.stderr, flush=True)
    return seconds


def row(name: str, seconds: list[float]) -> str:
    return (
        f"{name:<46} {statistics.median(seconds):>8.2f} {min(seconds):>8.2f} "
        f"{max(seconds):>8.2f} {len(seconds):>4}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fast figures")
    parser.add_argument("--repeat-slow", type=int, default=3, help="runs of the slow figures")
    args = parser.parse_args(argv)

    env = project_env()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict[str, list[float]] = {}
    try:
        copier = str(Path(sys.executable).with_name("copier"))

        def copier_copy(i: int) -> None:
            run(
                [copier, "copy", "--quiet", "--defaults", "--vcs-ref", "HEAD",
                 "--data", f"python_version={host_python()}", str(TEMPLATE), str(work / f"c{i}")],
                work, env=env,
            )  # fmt: skip

        print("Scaffolding ...", file=sys.stderr)
        results["copier copy (default project)"] = measure("copier copy", args.repeat, copier_copy)

        project = render(work / "project")
        git_commit_all(project, "rendered")
        run(["make", "install"], project, env=env)
        prefect = str(project / ".venv" / "bin" / "prefect")

        def prefect_init(i: int) -> None:
            folder = work / f"init{i}"
            folder.mkdir()
            run(
                [prefect, "--no-prompt", "init", "--recipe", "docker",
                 "--field", "image_name=acme/pipelines", "--field", "tag=latest"],
                folder, env=env,
            )  # fmt: skip

        results["prefect init --recipe docker"] = measure("prefect init", args.repeat, prefect_init)

        def first_run(_: int) -> None:
            for state in (".prefect", ".run", "data"):
                shutil.rmtree(project / state, ignore_errors=True)
            set_api_port(project, free_port())
            try:
                for target in ("up", "deploy", "run"):
                    run(["make", target], project, env=env)
            finally:
                run(["make", "down"], project, env=env, check=False)

        print("First COMPLETED run ...", file=sys.stderr)
        results["installed project -> first COMPLETED run"] = measure(
            "first run", args.repeat_slow, first_run
        )

        def generated_tests(_: int) -> None:
            run(["make", "test", "PYTEST_ARGS=-q -p no:cacheprovider"], project, env=env)

        print("Generated test suite ...", file=sys.stderr)
        results["generated project: make test"] = measure(
            "make test", args.repeat_slow, generated_tests
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'figure (seconds)':<46} {'median':>8} {'min':>8} {'max':>8} {'runs':>4}")
    for name, seconds in results.items():
        print(row(name, seconds))
    copy = statistics.median(results["copier copy (default project)"])
    init = statistics.median(results["prefect init --recipe docker"])
    print(f"\ncopier copy / prefect init: {copy / init:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
