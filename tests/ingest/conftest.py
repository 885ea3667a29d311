"""Fixtures of the Yahoo tests: folders with a ninjatrader master, the fake Yahoo transport."""

from __future__ import annotations

import pytest

from datamgr.store.store import Store
from tests.ingest.yahoo_builders import master_and_yahoo


@pytest.fixture
def seeded(settings):
    """(settings, master, yahoo): ES1_1m.parquet holds the ninjatrader master."""
    master, yahoo = master_and_yahoo()
    Store(settings).write("ES1", "1m", master, operation="test")
    return settings, master, yahoo
