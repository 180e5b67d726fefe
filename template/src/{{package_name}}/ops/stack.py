"""Background Prefect processes for development: `up`, `down`, `status`, `logs`.

`up --server` starts a Prefect server on the loopback address in PREFECT_API_URL
(SQLite under .prefect/) and a worker; without `--server` only the worker starts,
against whatever API PREFECT_API_URL names (Prefect Cloud, for instance). Logs and
pid files live in .run/. Each process gets its own process group, so `down` also
stops the flow runs a worker started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from ._cli import OpsError, api_url, require_api, run_main

RUN_DIR = Path(".run")
PREFECT_HOME = Path(".prefect")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Service:
    name: str

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return RUN_DIR / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return None
        except PermissionError:
            pass  # alive, owned by someone else
        return pid

    def start(self, command: list[str]) -> int:
        RUN_DIR.mkdir(exist_ok=True)
        env = {**os.environ, "PREFECT_HOME": str(PREFECT_HOME.resolve())}
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def stop(self, grace_seconds: float = 20.0) -> bool:
        """Stop the process group; True if something was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def tail(self, lines: int) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


SERVER = Service("server")
WORKER = Service("worker")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prefect(*args: str) -> list[str]:
    # The `prefect` entry point of this virtual environment, not whatever is on PATH.
    return [str(Path(sys.executable).with_name("prefect")), *args]


def _wait_until(check: Callable[[], bool], service: Service, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.pid() is None:
            raise OpsError(
                f"the {service.name} exited before {what}; last log lines:\n"
                f"{service.tail(15)}\n(full log: {service.log_file})"
            )
        if check():
            return
        time.sleep(0.5)
    raise OpsError(f"the {service.name} was not {what} after {timeout:g}s; see {service.log_file}")


def _server_address(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if parsed.scheme != "http" or parsed.hostname not in LOOPBACK:
        raise OpsError(
            f"PREFECT_API_URL is {url}, but the local server listens on the loopback "
            "address only: use http://127.0.0.1:<port>/api"
        )
    return parsed.hostname, parsed.port or 80


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _worker_online(pool: str) -> Callable[[], bool]:
    from prefect.client.orchestration import get_client

    def check() -> bool:
        try:
            with get_client(sync_client=True) as client:
                workers = client.read_workers_for_work_pool(pool)
        except Exception:  # noqa: BLE001 - the pool may not exist until the worker creates it
            return False
        return any(worker.status == "ONLINE" for worker in workers)

    return check


def up(server: bool, cloud: bool, pool: str, pool_type: str, timeout: float) -> None:
    url = api_url()
    if cloud:
        from prefect.settings import get_current_settings

        if get_current_settings().api.key is None:
            raise OpsError(
                "PREFECT_API_KEY is not set: create an API key in Prefect Cloud "
                "(profile menu > API keys) and put it in .env"
            )
    started: list[Service] = []
    try:
        if server:
            host, port = _server_address(url)
            if SERVER.pid() is None:
                if _port_open(host, port):
                    raise OpsError(
                        f"{host}:{port} is already in use by a process `make up` did not start: "
                        "stop it, or set PREFECT_API_URL in .env to another port"
                    )
                SERVER.start(_prefect("server", "start", "--host", host, "--port", str(port)))
                started.append(SERVER)
                print(f"Starting the Prefect server on {host}:{port} ...")
            _wait_until(lambda: _healthy(url), SERVER, "healthy", timeout)
            print(f"Prefect server healthy; UI at {url.removesuffix('/api')}")
        else:
            require_api()
        if WORKER.pid() is None:
            WORKER.start(_prefect("worker", "start", "--pool", pool, "--type", pool_type))
            started.append(WORKER)
            print(f"Starting a {pool_type} worker for pool {pool!r} ...")
        _wait_until(_worker_online(pool), WORKER, f"polling pool {pool!r}", timeout)
    except OpsError:
        for service in reversed(started):  # leave nothing half-started behind
            service.stop()
        raise
    print(f"Worker online, polling {pool!r}. Logs: {RUN_DIR}/ (`make logs`); stop: `make down`.")


def down() -> None:
    for service in (WORKER, SERVER):
        if service.stop():
            print(f"Stopped the {service.name}.")
        else:
            print(f"The {service.name} was not running.")


def status(pool: str) -> None:
    url = api_url()
    for service in (SERVER, WORKER):
        pid = service.pid()
        print(f"{service.name:<7} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    print(f"api     {url} {'(healthy)' if _healthy(url) else '(not answering)'}")
    online = _worker_online(pool)()
    print(f"pool    {pool} {'(a worker is online)' if online else '(no worker online)'}")


def logs(lines: int, follow: bool) -> None:
    services = [s for s in (SERVER, WORKER) if s.log_file.exists()]
    if not services:
        print("No logs yet: `make up` writes them to .run/.")
        return
    for service in services:
        print(f"==> {service.log_file} <==\n{service.tail(lines)}")
    if follow:
        handles = [s.log_file.open(errors="replace") for s in services]
        for handle in handles:
            handle.seek(0, os.SEEK_END)
        while True:
            for handle in handles:
                for line in handle.readlines():
                    print(line, end="")
            time.sleep(0.5)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the processes and wait until ready")
    up_parser.add_argument("--server", action="store_true", help="also run a local server")
    up_parser.add_argument("--cloud", action="store_true", help="require a Prefect Cloud key")
    up_parser.add_argument("--pool", required=True)
    up_parser.add_argument("--pool-type", default="process")
    up_parser.add_argument("--timeout", type=float, default=180.0)
    commands.add_parser("down", help="stop the processes")
    status_parser = commands.add_parser("status", help="show what is running")
    status_parser.add_argument("--pool", required=True)
    logs_parser = commands.add_parser("logs", help="show the logs")
    logs_parser.add_argument("--lines", type=int, default=40)
    logs_parser.add_argument("--follow", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "up":
        up(args.server, args.cloud, args.pool, args.pool_type, args.timeout)
    elif args.command == "down":
        down()
    elif args.command == "status":
        status(args.pool)
    else:
        logs(args.lines, args.follow)
    return 0


if __name__ == "__main__":
    run_main(main)
