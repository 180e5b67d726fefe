"""The image's health check: is the worker's health endpoint answering?

`prefect worker start --with-healthcheck` serves /health on the worker
webserver port (PREFECT_WORKER_WEBSERVER_PORT, 8080 by default). Containers
that run a flow (not a worker) have PREFECT__FLOW_RUN_ID set and always pass.
"""

from __future__ import annotations

import http.client
import os
import sys


def healthy(port: int, timeout: float = 4.0) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def main() -> int:
    if os.environ.get("PREFECT__FLOW_RUN_ID"):
        return 0
    port = int(os.environ.get("PREFECT_WORKER_WEBSERVER_PORT", "8080"))
    return 0 if healthy(port) else 1


if __name__ == "__main__":
    sys.exit(main())
