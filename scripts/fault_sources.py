"""The sources of the fault matrix: an http server run in a container of the stack.

Flow-run containers join only the stack's `default` network, so the sources they
fetch must be served from that network; this file runs there, in the stand-in
python image (standard library only). Paths:

    /good/<name>            a valid CSV at once
    /slow/<seconds>/<name>  the same CSV after <seconds> (a fault lands mid-fetch)
    /bad/<name>             bytes that are not records (not UTF-8)
    /hang/<name>            accepts the request, never answers
    /drip/<name>            response headers one byte a second, never finished
    /auth/<path>            any path above, only with `Authorization: Bearer $SOURCES_TOKEN`
                            (else 401); the token is this container's, never the flow runs'

Every wait is bounded (at most 10 minutes), so nothing here outlives a test run.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD = (
    b"record_id,occurred_on,category,quantity,unit_price\n"
    b"F1,2026-01-06,hardware,2,10.00\n"
    b"F2,2026-01-07,software,1,5.50\n"
)
NOT_RECORDS = b"\xff\xfe\x00 not a CSV \x00\xff"
LONGEST_WAIT = 600.0
TOKEN = os.environ.get("SOURCES_TOKEN", "")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        kind, _, rest = self.path.strip("/").partition("/")
        if kind == "auth":
            given = self.headers.get("Authorization", "").encode()
            if not TOKEN or not hmac.compare_digest(given, f"Bearer {TOKEN}".encode()):
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Bearer")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            kind, _, rest = rest.partition("/")
        with contextlib.suppress(OSError):  # the client gave up meanwhile
            if kind == "hang":
                time.sleep(LONGEST_WAIT)
                return
            if kind == "drip":
                for byte in b"HTTP/1.1 200 OK\r\nX-Drip: " + b"x" * int(LONGEST_WAIT):
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
                return
            if kind == "slow":
                time.sleep(min(float(rest.split("/", 1)[0]), LONGEST_WAIT))
            body = NOT_RECORDS if kind == "bad" else GOOD
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
