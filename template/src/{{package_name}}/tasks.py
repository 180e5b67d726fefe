"""Prefect tasks: the units of work of core/steps.py, each run through core/resume.py.

A task reads the settings when it runs, opens the store, and lets `run_step` decide
whether its outputs are current: a finished unit is skipped and its recorded result
returned (see core/resume.py for the rule). The retry policies come from the
settings too, applied by the stages when they submit a task: `fetch_options` for
the network, `processing_options` for the work on stored objects. Fetches carry
the tag `<package>-fetch`, so that a server-wide limit on it, shared by every run,
takes Prefect's own command: `prefect concurrency-limit create <package>-fetch 4`.

No task carries a Prefect timeout: the task runner's threads cannot be interrupted,
so Prefect would only mark a task TimedOut after its work had finished (and warn so in
every task run's log). A fetch is bounded inside its I/O (per operation and per whole
download); anything else that hangs is ended by its flow run's timeout (flow_policy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from prefect import Task, task
from prefect.blocks.system import Secret
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import exponential_backoff

from . import block_names
from .core import parsers, steps
from .core.records import SchemaError
from .core.resume import Step, code_fingerprint, run_step
from .core.sources import SourceError
from .core.storage import ObjectStore
from .flows import department_data
from .object_store import open_store
from .settings import Settings, get_settings

Result = dict[str, Any]


class UnitsFailedError(Exception):
    """Several units of one stage failed; `errors` holds each one's exception."""

    def __init__(self, task_name: str, total: int, errors: list[BaseException]) -> None:
        super().__init__(task_name, total, errors)  # the arguments pickle rebuilds it from
        self.task_name, self.total, self.errors = task_name, total, errors

    def __str__(self) -> str:
        each = "; ".join(f"{type(exc).__name__}: {exc}" for exc in self.errors)
        return f"{len(self.errors)} of {self.total} {self.task_name} runs failed: {each}"


def permanent(exc: BaseException) -> bool:
    """A fault a retry cannot fix; anything unexpected gets the benefit of the doubt."""
    if isinstance(exc, SourceError):
        return not exc.retryable
    if isinstance(exc, UnitsFailedError):
        return all(permanent(error) for error in exc.errors)
    return isinstance(exc, (SchemaError, ValueError))


def retry_unless_permanent(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry passing faults; give up at once on ones a retry cannot fix."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the failure of the task run, to classify
        return not permanent(exc)
    return False


def fetch_options(settings: Settings) -> dict[str, Any]:
    """Fetches retry passing network faults, with exponential backoff and jitter."""
    fetch = settings.fetch
    return {
        "retries": fetch.retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=fetch.backoff_seconds),
        "retry_jitter_factor": fetch.jitter_factor,
        "retry_condition_fn": retry_unless_permanent,
    }


def processing_options(settings: Settings) -> dict[str, Any]:
    """Work on stored objects retries rarely: a bad input fails the same way twice."""
    return {
        "retries": settings.processing.retries,
        "retry_delay_seconds": settings.processing.retry_delay_seconds,
        "retry_condition_fn": retry_unless_permanent,
    }


def fetch_headers(settings: Settings) -> dict[str, str] | None:
    """The bearer token from the Secret block `make blocks` saves, else from the settings."""
    try:
        secret_block = cast(Secret[str], Secret.load(block_names.FETCH_TOKEN))
        token: str | None = secret_block.get()
    except ValueError:  # no such block: local development
        secret = settings.fetch.auth_token
        token = secret.get_secret_value() if secret else None
    return {"Authorization": f"Bearer {token}"} if token else None


def _resumed(
    store: ObjectStore, step: Step, work: Callable[[], Result], *code: Callable[..., Any],
    refresh: bool,
) -> Result:  # fmt: skip
    result, reused = run_step(store, step, work, code=code_fingerprint(*code), refresh=refresh)
    return {**result, "reused": reused}


# The tag a server-wide limit on fetches applies to (`prefect concurrency-limit create`).
@task(name="snapshot-source", tags=[block_names.FETCH_TAG])
def snapshot_source(department: str, partition: str, source: str, refresh: bool = False) -> Result:
    """Fetch one source and store its bytes as the partition's raw snapshot."""
    settings = get_settings()
    store = open_store(settings)
    step = steps.snapshot_step(department, partition, source)

    def work() -> Result:
        return steps.snapshot(
            store,
            step,
            timeout=settings.fetch.timeout_seconds,
            deadline=settings.fetch.deadline_seconds,
            headers=fetch_headers(settings),
        )

    return _resumed(store, step, work, steps.snapshot, refresh=refresh)


@task(name="process-snapshot")
def process_snapshot(
    department: str, partition: str, raw_key: str, refresh: bool = False
) -> Result:
    """Validate and clean one raw snapshot into a processed batch."""
    store = open_store(get_settings())
    schema = department_data(department).SCHEMA  # read when the task runs, like the settings
    step = steps.process_step(department, partition, raw_key, schema)
    # The parser is looked up by kind, out of the code's reach: its own code counts too
    # (one registered in data.py, say).
    parser = parsers.parser_for(schema.kind)
    return _resumed(
        store, step, lambda: steps.process(store, step), steps.process, parser, refresh=refresh
    )


@task(name="summarise-partition")
def summarise_partition(
    department: str,
    partition: str,
    processed_keys: list[str],
    quarantined: list[str],
    refresh: bool = False,
) -> Result:
    """Add up the partition's processed batches and write its reports."""
    store = open_store(get_settings())
    step = steps.summarise_step(department, partition, processed_keys, quarantined)
    work = steps.summarise_partition
    return _resumed(store, step, lambda: work(store, step), work, refresh=refresh)


@task(name="write-manifest")
def write_manifest(
    department: str, partition: str, keys: list[str], refresh: bool = False
) -> Result:
    """Record the SHA-256 of every object of the partition."""
    store = open_store(get_settings())
    step = steps.manifest_step(department, partition, keys)
    work = steps.write_manifest
    return _resumed(store, step, lambda: work(store, step), work, refresh=refresh)
