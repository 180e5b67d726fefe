"""What a new user meets in the first hour: each message, read as they would read it."""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from project import errors, free_port, git_commit_all, set_api_port

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def fake_cloud(key: str) -> Iterator[str]:
    """An API on loopback that answers /health and accepts only `Bearer <key>`."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            accepted = self.headers.get("Authorization") == f"Bearer {key}"
            status = 200 if self.path.endswith("/health") or accepted else 401
            body = b"[]" if status == 200 else b'{"detail": "Unauthorized"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/accounts/a1/workspaces/w1"
    finally:
        server.shutdown()
        server.server_close()


def test_prefect_cloud_credentials_are_checked_and_explained(render_project, make) -> None:
    project: Path = render_project(prefect_backend="cloud", work_pool_type="process")
    git_commit_all(project, "rendered")
    make(project, "install")
    env_file = project / ".env"

    # As the README says: copy .env.example, and forget to fill it in.
    shutil.copy(project / ".env.example", env_file)
    (line,) = errors(make(project, "up", check=False).stdout)
    assert "PREFECT_API_URL still holds the <account-id>/<workspace-id> placeholders" in line
    # Or paste the workspace page's address from the browser: the API URL is derived from it.
    placeholder = "https://api.prefect.cloud/api/accounts/<account-id>/workspaces/<workspace-id>"
    copied = env_file.read_text()
    page = "https://app.prefect.cloud/account/0ff4-a1/workspace/9c1e-b2/dashboard"
    env_file.write_text(copied.replace(placeholder, page))
    (line,) = errors(make(project, "check", check=False).stdout)
    assert line == (
        "error: PREFECT_API_URL is the address of a page of the Prefect UI, not of the API: set "
        "it to https://api.prefect.cloud/api/accounts/0ff4-a1/workspaces/9c1e-b2"
    )
    env_file.write_text(copied)

    with fake_cloud(key="pnu_right") as url:
        text = env_file.read_text().replace(
            "https://api.prefect.cloud/api/accounts/<account-id>/workspaces/<workspace-id>", url
        )
        env_file.write_text(text)  # PREFECT_API_KEY= stays empty, as copied
        (line,) = errors(make(project, "check", check=False).stdout)
        assert "PREFECT_API_KEY is not set (an empty value counts as unset)" in line

        env_file.write_text(text.replace("PREFECT_API_KEY=\n", "PREFECT_API_KEY=pnu_wrong\n"))
        for target in ("check", "up", "deploy", "run"):
            result = make(project, target, check=False)
            assert result.returncode != 0, target
            (line,) = errors(result.stdout)
            assert "rejected the credentials (HTTP 401): check PREFECT_API_KEY" in line, target
            assert "make up" not in line  # never told to start a server on Cloud

        env_file.write_text(text.replace("PREFECT_API_KEY=\n", "PREFECT_API_KEY=pnu_right\n"))
        checked = make(project, "check").stdout
        assert "answers and accepts the credentials" in checked

    # The API is gone: unreachable, with a hint that fits Cloud.
    status = make(project, "status", check=False).stdout
    assert "server" not in status.split("error:")[0]  # no server row: Cloud has none
    (line,) = errors(status)
    assert "is not reachable" in line
    assert "check the URL and your network" in line
    assert "make up" not in line


def test_invalid_settings_and_a_taken_port_are_one_line(
    render_project, make, stopped_afterwards: list[Path]
) -> None:
    project: Path = render_project()
    git_commit_all(project, "rendered")
    make(project, "install")
    stopped_afterwards.append(project)

    set_api_port(project, free_port())
    with (project / ".env").open("a") as env_file:
        env_file.write("PIPELINE_FETCH__RETRIES=many\n")
    for target in ("up", "deploy", "run", "check"):
        result = make(project, target, check=False)
        assert result.returncode != 0, target
        (line,) = errors(result.stdout)
        assert "invalid settings" in line, (target, line)
        assert "PIPELINE_FETCH__RETRIES" in line, (target, line)
        assert "Traceback" not in result.stdout

    # Another program holds the port: `make up` says so, and leaves nothing running.
    env = (project / ".env").read_text().replace("PIPELINE_FETCH__RETRIES=many\n", "")
    (project / ".env").write_text(env)
    port = free_port()
    set_api_port(project, port)
    holder = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    try:
        result = make(project, "up", check=False)
    finally:
        holder.server_close()
    assert result.returncode != 0
    (line,) = errors(result.stdout)
    assert line == "error: the server exited; the end of .run/server.log:"
    assert f"Port {port} is already in use" in result.stdout  # Prefect's own check
    assert "stopped" in make(project, "status", check=False).stdout.splitlines()[0]

    # A PREFECT_API_URL off the loopback address: refused before anything starts.
    env = (project / ".env").read_text().replace(f"127.0.0.1:{port}", f"0.0.0.0:{port}")
    (project / ".env").write_text(env)
    result = make(project, "up", check=False)
    assert result.returncode != 0
    assert errors(result.stdout) == [
        f"error: PREFECT_API_URL is http://0.0.0.0:{port}/api, but the local server listens "
        "on the loopback address only: use http://127.0.0.1:<port>/api"
    ]
    assert not (project / ".run/server.pid").exists()
