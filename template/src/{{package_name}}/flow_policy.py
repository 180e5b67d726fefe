"""Retries and a timeout for every department flow run, from the settings.

A `@flow` decorator takes its options when the module is imported, but settings are
read when a flow runs; so the decorators carry none, and each flow's body runs inside
`applied()`: it records the retry policy on the flow run (the server decides on a
retry from it when the run fails) and bounds the body by the timeout. A direct call
and a deployed run take the same path.

By default a flow run is not retried but is timed out (PIPELINE_FLOWS__*): the tasks
already retry their passing faults and a rerun skips every finished unit, so a
whole-flow retry would mostly repeat the failure; the timeout is the backstop for a
run that hangs, which would otherwise hold its deployment's concurrency slot and keep
every later run waiting. A stage started by its pipeline takes neither on its own: the
pipeline's timeout bounds it and the pipeline's retry runs it again (so retries do not
multiply). A permanent fault (a bad source, records of the wrong shape) ends the run
without a retry, as it does for the tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.utilities.timeout import timeout

from .settings import get_settings
from .tasks import permanent


class _ExpiredError(TimeoutError):
    """Raised into the body when the timeout expires; reported with the setting to change."""


def _set_retries(flow_run: FlowRun, retries: int, delay: int) -> None:
    policy = flow_run.empirical_policy.model_copy(update={"retries": retries, "retry_delay": delay})
    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run.id, empirical_policy=policy)
    flow_run.empirical_policy = policy


@contextmanager
def applied() -> Iterator[None]:
    """Run a flow's body under the retries and timeout the settings give."""
    settings = get_settings().flows
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow is None:
        raise RuntimeError("flow_policy.applied() belongs inside a flow")
    flow_run, name = context.flow_run, context.flow.name
    on_its_own = flow_run.parent_task_run_id is None
    retries = settings.retries if on_its_own else 0
    _set_retries(flow_run, retries, settings.retry_delay_seconds)
    seconds = settings.timeout_seconds
    try:
        with timeout(seconds, timeout_exc_type=_ExpiredError) if on_its_own else nullcontext():
            yield
    except _ExpiredError:
        raise TimeoutError(
            f"{name} ran longer than {seconds:g}s (PIPELINE_FLOWS__TIMEOUT_SECONDS)"
        ) from None
    except Exception as exc:
        if retries and permanent(exc):
            _set_retries(flow_run, 0, settings.retry_delay_seconds)
        raise
