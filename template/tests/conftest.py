"""Fixtures: every test runs in its own folder with its own settings and a fresh store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CSV, SourceServer


@pytest.fixture(autouse=True)
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh local store per test, quick retries, and no developer's .env (which may hold
    real endpoints and secrets): settings are read when a flow runs, from here."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("PIPELINE_"):
            monkeypatch.delenv(name)
    root = tmp_path / "data"
    monkeypatch.setenv("PIPELINE_STORAGE__BACKEND", "local")
    monkeypatch.setenv("PIPELINE_STORAGE__ROOT", str(root))
    monkeypatch.setenv("PIPELINE_FETCH__BACKOFF_SECONDS", "0.05")
    monkeypatch.setenv("PIPELINE_FETCH__JITTER_FACTOR", "0")
    monkeypatch.setenv("PIPELINE_PROCESSING__RETRY_DELAY_SECONDS", "0")
    monkeypatch.setenv("PIPELINE_FLOWS__RETRY_DELAY_SECONDS", "0")
    # Tests count work in this process; tests/flows/test_dask.py turns Dask on itself.
    monkeypatch.setenv("PIPELINE_COMPUTE__RUNNER", "threads")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return root


@pytest.fixture
def source_server() -> Iterator[SourceServer]:
    with SourceServer() as server:
        yield server


@pytest.fixture
def sample_csv() -> bytes:
    return CSV
