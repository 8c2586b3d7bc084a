"""Options shared by the benchmarks."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--rows", type=int, default=1_000_000,
        help="claim rows for the bulk benchmarks (default 1,000,000; CI uses a small number)",
    )


@pytest.fixture(scope="session")
def rows(request: pytest.FixtureRequest) -> int:
    """The number of claim rows the bulk benchmarks generate (``--rows``)."""
    value = request.config.getoption("--rows")
    if value < 1:
        raise pytest.UsageError(f"--rows must be at least 1, got {value}")
    return value
