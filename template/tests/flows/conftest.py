"""One temporary Prefect server (SQLite) for every flow test of the session."""

from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(autouse=True, scope="session")
def prefect_server() -> Iterator[None]:
    # The default 30 s start-up timeout is too tight on small CI machines. Heartbeats are
    # off: Prefect's heartbeat thread sleeps in whole seconds, so each flow run would wait
    # up to a second to end, and nothing here reads them.
    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield
