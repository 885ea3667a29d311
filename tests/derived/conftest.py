from __future__ import annotations

import sys
from pathlib import Path

import pytest

from datamgr.core.config import Settings
from datamgr.store.store import Store

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def dsettings(settings) -> Settings:
    """Settings over an empty temporary data folder (the shared ``settings`` fixture)."""
    return settings


@pytest.fixture
def dstore(store) -> Store:
    return store
