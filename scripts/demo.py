"""`make demo`: render the default project, run its pipeline on the local backend.

Renders the template with the default answers (python_version set to this
machine's Python) into a scratch folder, installs it, starts the local backend,
deploys, runs the first department's pipeline (which prints each flow run's
final state and where the outputs went) and stops the backend again, also when a
step fails. `--keep-up` leaves the backend running to explore the UI.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from project import TEMPLATE, free_port, git_commit_all, project_env, render, run, set_api_port


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def make(project: Path, *targets: str, env: dict[str, str]) -> None:
    run(["make", "--no-print-directory", *targets], project, env=env, capture=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, default=TEMPLATE / ".demo" / "acme-data-pipelines")
    parser.add_argument("--port", type=int, default=None, help="API port (default 4200, or free)")
    parser.add_argument("--department", default=None, help="pipeline to run (default: first)")
    parser.add_argument("--keep-up", action="store_true", help="leave the backend running")
    args = parser.parse_args(argv)

    dest: Path = args.dest.resolve()
    if dest.exists():
        if not (dest / ".copier-answers.yml").exists():
            print(f"error: {dest} exists and is not a demo project; choose --dest", file=sys.stderr)
            return 1
        if (dest / ".run").exists():
            run(["make", "down"], dest, env=project_env(), check=False)
        shutil.rmtree(dest)

    started = time.monotonic()
    step(f"Rendering the default project into {dest}")
    render(dest)
    git_commit_all(dest, "Initial commit from copier-prefect-starter")
    port = args.port or (4200 if _port_free(4200) else free_port())
    url = set_api_port(dest, port)
    env = project_env()
    step("make install")
    make(dest, "install", env=env)

    ok = False
    try:
        step(f"make up (Prefect server at {url})")
        make(dest, "up", env=env)
        step("make deploy")
        make(dest, "deploy", env=env)
        step("make run")
        make(dest, "run", *([f"DEPARTMENT={args.department}"] if args.department else []), env=env)
        ok = True
    except RuntimeError as exc:
        print(f"\nerror: {str(exc).splitlines()[0]}", file=sys.stderr)
    finally:
        if args.keep_up and ok:
            print(
                f"\nThe backend is still up: UI at {url.removesuffix('/api')}; "
                f"stop it with `make -C {dest} down`."
            )
        else:
            step("make down")
            make(dest, "down", env=env)
    print(
        f"\nDemo {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s; "
        f"the project is in {dest}"
    )
    return 0 if ok else 1


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
