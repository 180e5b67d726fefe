"""Ingestion: fetch the department's sources and keep a raw snapshot of each."""

from prefect import flow

from ... import flow_policy
from ...stages import IngestionReport, ingest
from . import DEPARTMENT, data


@flow(name=f"{DEPARTMENT}-ingestion")
def ingestion(
    partition: str | None = None, sources: list[str] | None = None, refresh: bool = False
) -> IngestionReport:
    """Fetch every source concurrently (retrying passing faults) into raw/<partition>/.

    Args:
        partition: the batch label, by default today's UTC date.
        sources: local paths or http(s) URLs; by default `data.SOURCES`.
        refresh: fetch again even where a current snapshot exists.
    """
    with flow_policy.applied():
        return ingest(DEPARTMENT, partition, list(sources or data.SOURCES), refresh=refresh)
