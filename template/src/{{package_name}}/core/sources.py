"""Fetching source files from local paths or http(s) URLs."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
import httpx

# Worth another attempt: the server may recover (rate limits, overload, gateways).
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class SourceError(Exception):
    """A source could not be read. `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with `retryable` too (a Dask worker, a stored result)."""
        return partial(type(self), retryable=self.retryable), (str(self),)


def is_url(source: str) -> bool:
    """Whether the source is an http(s) URL."""
    return urlparse(source).scheme in {"http", "https"}


def source_name(source: str) -> str:
    """A file name for the source's snapshot, e.g. `orders-north.csv`."""
    path = urlparse(source).path if is_url(source) else source.removeprefix("file://")
    name = PurePosixPath(unquote(path).replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    if not name:
        raise SourceError(f"cannot derive a file name from source {source!r}", retryable=False)
    return name


def fetch_source(
    source: str,
    *,
    timeout: float,
    deadline: float | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Return the bytes of a local file or an http(s) URL.

    `timeout` bounds each network operation (connect, each read); `deadline`
    bounds the whole exchange, headers included, so a server trickling bytes cannot
    stall a run.
    Raises SourceError; its `retryable` flag separates passing faults (timeouts,
    5xx, 429) from ones a retry cannot fix (404, a missing file).
    """
    if is_url(source):
        return _fetch_http(
            source, timeout=timeout, deadline=deadline or timeout * 4, headers=headers or {}
        )
    path = Path(source.removeprefix("file://"))
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"source file not found: {path}", retryable=False) from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc}", retryable=True) from exc


def _fetch_http(url: str, *, timeout: float, deadline: float, headers: dict[str, str]) -> bytes:
    """The whole exchange (connect, headers, body) within `deadline` seconds.

    A per-read timeout alone lets a server that drips a byte every few seconds hold a
    run forever; a cancellation scope around the whole request cannot be outwaited.
    """

    async def download() -> bytes:
        with anyio.fail_after(deadline):
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                if not response.is_success:
                    raise SourceError(
                        f"{url}: HTTP {response.status_code} {response.reason_phrase}",
                        retryable=response.status_code in RETRYABLE_STATUS,
                    )
                return b"".join([chunk async for chunk in response.aiter_bytes()])

    try:
        return anyio.run(download)
    except TimeoutError:
        raise SourceError(
            f"{url}: no complete answer within {deadline:g}s (PIPELINE_FETCH__DEADLINE_SECONDS)",
            retryable=True,
        ) from None
    except httpx.TimeoutException as exc:  # one operation (connect, a read) took too long
        raise SourceError(
            f"{url}: {exc.__class__.__name__}, no answer within {timeout:g}s "
            "(PIPELINE_FETCH__TIMEOUT_SECONDS)",
            retryable=True,
        ) from exc
    except httpx.TransportError as exc:
        raise SourceError(f"{url}: {exc.__class__.__name__}: {exc}", retryable=True) from exc
