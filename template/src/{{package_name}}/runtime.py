"""The object store and the Prefect result storage that the settings select.

Both live in the same place, so a rerun on another worker finds the outputs and
the persisted task results of earlier runs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from prefect.filesystems import LocalFileSystem
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from .core.storage import LocalStore, ObjectStore, sha256_hex
from .settings import Settings, get_settings

# Persisted task results sit beside the outputs, under a dot-folder that
# `ObjectStore.list` skips.
RESULTS_FOLDER = ".prefect-results"

# Every block this project saves is named `<BLOCK_PREFIX>-...` (block names allow
# lowercase letters, digits and dashes).
BLOCK_PREFIX = __name__.split(".", 1)[0].replace("_", "-")
ALERTS_BLOCK = f"{BLOCK_PREFIX}-alerts"
FETCH_TOKEN_BLOCK = f"{BLOCK_PREFIX}-fetch-auth-token"


class StorageNotConfiguredError(RuntimeError):
    """The settings select a backend this installation cannot use."""


def object_store(settings: Settings | None = None) -> ObjectStore:
    """The store the settings select."""
    settings = settings or get_settings()
    backend = settings.storage.backend
    if backend == "local":
        return LocalStore(settings.storage.root)
    raise StorageNotConfiguredError(f"storage backend {backend!r} is not available")


def result_storage(settings: Settings | None = None) -> str:
    """The block (as a `type/name` slug) where Prefect persists task results.

    Prefect needs result storage saved server-side, so that any worker can read
    results back; the block is saved on first use, named after its location.
    """
    settings = settings or get_settings()
    backend = settings.storage.backend
    if backend == "local":
        return _saved_local_results(str(settings.storage.root.resolve() / RESULTS_FOLDER))
    raise StorageNotConfiguredError(f"storage backend {backend!r} is not available")


@lru_cache(maxsize=16)
def _saved_local_results(basepath: str) -> str:
    name = f"{BLOCK_PREFIX}-results-{sha256_hex(basepath.encode())[:10]}"
    LocalFileSystem(basepath=basepath).save(name, overwrite=True)
    return f"local-file-system/{name}"


def task_runner(settings: Settings | None = None) -> TaskRunner[PrefectFuture[Any]]:
    """Fan-out tasks run on threads, at most `fetch.max_concurrency` at once."""
    max_workers = (settings or get_settings()).fetch.max_concurrency
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=max_workers)
    # The flow decorator's type is TaskRunner[PrefectFuture[Any]] (an invariant generic).
    return cast(TaskRunner[PrefectFuture[Any]], runner)
