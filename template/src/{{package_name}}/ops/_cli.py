"""What every ops command shares: one-line errors and a reachable Prefect API."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import ValidationError


class OpsError(Exception):
    """A problem the user can fix, reported as one line without a traceback."""


def run_main(main: Callable[[list[str]], int]) -> None:
    """Run a command's `main`, turning expected failures into one readable line."""
    try:
        code = main(sys.argv[1:])
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors()
        )
        print(f"error: invalid settings: {problems}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def api_url() -> str:
    """The Prefect API this process talks to, from env, .env or prefect.toml."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise OpsError("PREFECT_API_URL is not set: add it to .env (see .env.example) or export it")
    return url


def require_api() -> str:
    """The API URL, after checking the API answers (auth included)."""
    from prefect.client.orchestration import get_client

    url = api_url()
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise OpsError(
            f"the Prefect API at {url} is not reachable ({problem.__class__.__name__}): "
            "start it with `make up`, or check PREFECT_API_URL"
        )
    return url
