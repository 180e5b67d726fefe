"""One temporary Prefect server (SQLite) for every flow test of the session."""

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(autouse=True, scope="session")
def prefect_server() -> Iterator[None]:
    # The default 30 s start-up timeout is too tight on small CI machines.
    with prefect_test_harness(server_startup_timeout=180):
        yield
