"""Smaller hardening items of issue 11 (Low): tickers, 0-byte masters, backups of damaged files."""

from __future__ import annotations

import pytest

from datamgr.core.errors import ConfigError
from datamgr.ops.inventory import scan


@pytest.mark.parametrize("ticker", ["ＥＳ１", "ES1é", "ΕΣ1"])
def test_full_width_and_non_ascii_tickers_are_refused(store, ticker):
    with pytest.raises(ConfigError, match="ASCII"):
        store.path(ticker, "1m")


def test_the_inventory_survives_a_zero_byte_master_and_flags_it(settings):
    settings.bar_path("ES1", "1m").write_bytes(b"")
    [f] = [f for f in scan(settings) if f.name == "ES1_1m.parquet"]
    assert f.flags and any("footer" in fl for fl in f.flags)
