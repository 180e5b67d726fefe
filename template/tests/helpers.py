"""Helpers the tests share: a local HTTP source, and sample CSV data."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CSV = (
    b"record_id,occurred_on,category,quantity,unit_price\n"
    b"A1,2026-01-02,Hardware,2,10.00\n"
    b"A2,2026-01-03,software,1,5.50\n"
    b"A3,not-a-date,software,1,5.50\n"
)


class SourceServer:
    """An HTTP server on 127.0.0.1 serving files, failing the first N requests of each path
    and answering each after a delay, if asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.failures: dict[str, tuple[int, int]] = {}  # path -> (remaining, status)
        self.delays: dict[str, float] = {}
        self.requests: Counter[str] = Counter()
        self.authorization: dict[str, str | None] = {}  # path -> the last request's header
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                server.authorization[self.path] = self.headers.get("Authorization")
                time.sleep(server.delays.get(self.path, 0.0))
                remaining, status = server.failures.get(self.path, (0, 200))
                if remaining > 0:
                    server.failures[self.path] = (remaining - 1, status)
                    self.send_error(status)
                elif self.path in server.files:
                    body = server.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def serve(
        self, path: str, body: bytes, *, fail_first: int = 0, status: int = 503,
        delay: float = 0.0,
    ) -> str:  # fmt: skip
        self.files[path] = body
        self.failures[path] = (fail_first, status)
        self.delays[path] = delay
        return self.url(path)

    def __enter__(self) -> SourceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class DripServer:
    """A server that sends a whole, valid response (`CSV`), but its headers one byte every
    `interval` seconds for `seconds` in all: each read returns quickly, so only a deadline
    on the whole download cuts it short; without one, the download succeeds."""

    def __init__(self, *, seconds: float = 10, interval: float = 0.3) -> None:
        self.interval = interval
        self.slow = b"x" * round(seconds / interval)
        self.connections = 0
        self.completed = 0  # responses sent to the end, that no deadline cut short
        self._drips: list[threading.Thread] = []
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                continue
            self.connections += 1
            drip = threading.Thread(target=self._drip, args=(connection,), daemon=True)
            self._drips.append(drip)
            drip.start()

    def _drip(self, connection: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Slow: " % len(CSV)
        with connection:
            try:
                connection.sendall(head)
                for byte in self.slow:
                    if self._stop.is_set():
                        return
                    connection.sendall(bytes([byte]))  # fails once the client has hung up
                    time.sleep(self.interval)
                connection.sendall(b"\r\n\r\n" + CSV)
            except OSError:
                return
            self.completed += 1

    def wait(self, timeout: float = 60) -> None:
        """Until every connection has ended: cut by its client, or sent to the end."""
        for drip in list(self._drips):
            drip.join(timeout)

    def __enter__(self) -> DripServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
