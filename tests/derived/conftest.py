from __future__ import annotations

import pytest

from datamgr.core.config import Settings
from datamgr.store.store import Store


@pytest.fixture
def dsettings(settings) -> Settings:
    """Settings over an empty temporary data folder (the shared ``settings`` fixture)."""
    return settings


@pytest.fixture
def dstore(store) -> Store:
    return store
