"""The department pipeline: ingestion, then processing, then analysis."""

from prefect import flow

from ...core.layout import resolve_partition
from ...stages import AnalysisReport
from . import DEPARTMENT
from .analysis import analysis
from .ingestion import ingestion
from .processing import processing


@flow(name=f"{DEPARTMENT}-pipeline")
def pipeline(
    partition: str | None = None, sources: list[str] | None = None, refresh: bool = False
) -> AnalysisReport:
    """Run the three stages as subflows on one partition.

    A rerun of the same partition after a failure reuses every finished task.

    Args:
        partition: the batch label, by default today's UTC date.
        sources: local paths or http(s) URLs; by default the bundled demo files.
        refresh: redo every stage even where its outputs exist.
    """
    partition = resolve_partition(partition)
    ingestion(partition=partition, sources=sources, refresh=refresh)
    processing(partition=partition, refresh=refresh)
    return analysis(partition=partition, refresh=refresh)
