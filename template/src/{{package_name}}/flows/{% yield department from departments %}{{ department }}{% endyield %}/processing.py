"""Processing: validate and clean each raw snapshot."""

from prefect import flow

from ...runtime import compute_task_runner
from ...stages import ProcessingReport, process
from . import DEPARTMENT


@flow(name=f"{DEPARTMENT}-processing", task_runner=compute_task_runner())
def processing(partition: str | None = None, refresh: bool = False) -> ProcessingReport:
    """Turn every raw snapshot of the partition into a processed batch.

    Args:
        partition: the batch label, by default today's UTC date.
        refresh: process again even where a processed batch exists.
    """
    return process(DEPARTMENT, partition, refresh=refresh)
