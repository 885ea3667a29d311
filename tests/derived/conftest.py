from __future__ import annotations

import sys
from pathlib import Path

import pytest

from datamgr.config import Settings
from datamgr.store import Store

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def dsettings(tmp_path) -> Settings:
    """Settings over an empty temporary data folder."""
    return Settings.load(data_dir=tmp_path / "data", env={})


@pytest.fixture
def dstore(dsettings) -> Store:
    return Store(dsettings)
