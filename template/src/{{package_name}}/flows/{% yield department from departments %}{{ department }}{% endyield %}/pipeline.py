"""The department pipeline: ingestion, then processing, then analysis."""

from prefect import flow

from ... import direct_run, flow_policy
from ...alerts import alert_on_failure
from ...core.layout import resolve_partition
from ...stages import AnalysisReport
from . import DEPARTMENT
from .analysis import analysis
from .ingestion import ingestion
from .processing import processing


@flow(
    name=f"{DEPARTMENT}-pipeline",
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def pipeline(
    partition: str | None = None, sources: list[str] | None = None, refresh: bool = False
) -> AnalysisReport:
    """Run the three stages as subflows on one partition.

    Each stage works on exactly what the one before produced in this run. A rerun of
    the same partition after a failure skips every unit of work already done. Retries
    and the timeout come from the settings (see flow_policy.py).

    Args:
        partition: the batch label, by default today's UTC date.
        sources: local paths or http(s) URLs; by default `data.SOURCES`.
        refresh: redo every unit of work even where its outputs are current.
    """
    with flow_policy.applied():
        partition = resolve_partition(partition)
        snapshots = ingestion(partition=partition, sources=sources, refresh=refresh)
        raw_keys = list(snapshots.snapshots)
        batches = processing(partition=partition, raw_keys=raw_keys, refresh=refresh)
        return analysis(
            partition=partition,
            processed_keys=list(batches.batches),
            quarantined=list(batches.quarantined),
            refresh=refresh,
        )


if __name__ == "__main__":  # a run in this process, without a server: see direct_run.py
    direct_run.main(pipeline, DEPARTMENT)
