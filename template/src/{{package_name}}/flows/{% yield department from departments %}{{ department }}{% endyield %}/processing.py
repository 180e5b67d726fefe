"""Processing: validate and clean each raw snapshot."""

from prefect import flow

from ... import flow_policy
from ...stages import ProcessingReport, process
from . import DEPARTMENT


@flow(name=f"{DEPARTMENT}-processing")
def processing(
    partition: str | None = None, raw_keys: list[str] | None = None, refresh: bool = False
) -> ProcessingReport:
    """Turn raw snapshots of the partition into processed batches.

    Args:
        partition: the batch label, by default today's UTC date.
        raw_keys: the snapshots to process; by default every one of the partition.
        refresh: process again even where a current batch exists.
    """
    with flow_policy.applied():
        return process(DEPARTMENT, partition, raw_keys, refresh=refresh)
