"""Analysis: summarise the processed batches, write reports and the manifest."""

from prefect import flow

from ... import flow_policy
from ...stages import AnalysisReport, analyse
from . import DEPARTMENT


@flow(name=f"{DEPARTMENT}-analysis")
def analysis(
    partition: str | None = None,
    processed_keys: list[str] | None = None,
    quarantined: list[str] | None = None,
    refresh: bool = False,
) -> AnalysisReport:
    """Summarise the partition and publish a report and a table as artifacts.

    Args:
        partition: the batch label, by default today's UTC date.
        processed_keys: the batches to add up; by default every one of the partition.
        quarantined: the snapshots set aside, to report; by default the partition's.
        refresh: summarise again even where current reports exist.
    """
    with flow_policy.applied():
        return analyse(DEPARTMENT, partition, processed_keys, quarantined, refresh=refresh)
