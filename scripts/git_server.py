"""A git repository served over HTTPS on 127.0.0.1 that requires an access token.

    python scripts/git_server.py ROOT PORT CERT KEY TOKEN

`git http-backend` (git's own smart-HTTP server, as a CGI program) serves the bare
repositories under ROOT; this wrapper answers 401 to any request whose basic auth
does not carry TOKEN (as the user name, as GitHub and Prefect's git_clone send it,
or as the password), except under ROOT/public/, which anyone may read and write.
Tests start it with `services.git_https`, which also makes the self-signed certificate.
"""

from __future__ import annotations

import base64
import http.server
import os
import ssl
import subprocess
import sys


def token_of(header: str | None) -> str | None:
    """The token in a basic-auth header (the user name, or the password if there is one)."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return password or user


def handler(root: str, token: str) -> type[http.server.BaseHTTPRequestHandler]:
    class GitHandler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            public = self.path.startswith("/public/")
            if not public and token_of(self.headers.get("Authorization")) != token:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            env = {
                "PATH": os.environ.get("PATH", ""),
                "GIT_PROJECT_ROOT": root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(length),
                "REMOTE_USER": "token",
                "REMOTE_ADDR": self.client_address[0],
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            body = self.rfile.read(length) if length else b""
            result = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True,
                timeout=60, check=False,
            )  # fmt: skip
            head, _, content = result.stdout.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _serve

    return GitHandler


def main(argv: list[str]) -> int:
    root, port, cert, key, token = argv
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler(root, token))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
