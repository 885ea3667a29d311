"""``Store.write(keep_row_groups=n)`` rewrites a file from its own unchanged row groups plus a new
tail (issue 13): same content, same content hash and row-group digests as writing it whole;
refused (nothing changes) when the file cannot prove such a prefix; the rows after the prefix are
read back checked against their footer digests."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow.parquet as pq
import pytest

from datamgr.core.errors import DamagedFileError, InvariantError, StoreError
from datamgr.ops.demo import make_demo_bars
from datamgr.store import store as store_mod
from datamgr.store.store import Store, content_sha256, read_footer, row_group_digests
from tests.conftest import folder_hash

GROUP = 2_000


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(store_mod, "ROW_GROUP", GROUP)


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return make_demo_bars(dt.date(2024, 1, 2), dt.date(2024, 1, 12))


def test_a_kept_prefix_plus_a_new_tail_equals_writing_the_whole_content(small_groups, store: Store, bars):
    old = bars.head(9_500)
    store.write("ES1", "5m", old, operation="regenerate", backup=False)
    before = bars["datetime"][7_000]  # groups 0-2 end before it; group 3 holds it
    n, rest = store.read_after_row_groups("ES1", "5m", before)
    assert n == 3 and rest.equals(old.slice(3 * GROUP))
    new_tail = bars.slice(3 * GROUP, 8_000)  # the rest changed: longer, new rows after
    w = store.write("ES1", "5m", new_tail, operation="regenerate", backup=False, keep_row_groups=n)
    whole = bars.head(3 * GROUP + 8_000)
    assert w.written and w.rows_after == whole.height
    assert store.read("ES1", "5m").equals(whole)  # verified read: digests and hash match the bars
    meta = read_footer(store.path("ES1", "5m"))
    assert meta.content_sha256 == content_sha256(whole) == w.content_sha256
    assert list(meta.row_group_digests) == row_group_digests(whole)
    assert pq.ParquetFile(store.path("ES1", "5m")).metadata.num_row_groups == 7


def test_a_prefix_the_file_cannot_prove_is_refused_and_nothing_changes(small_groups, store: Store, settings, bars):
    store.write("ES1", "5m", bars.head(4_500), operation="regenerate", backup=False)
    before = folder_hash(settings.data_dir)
    with pytest.raises(StoreError, match="keep_row_groups=3"):  # only two whole groups
        store.write("ES1", "5m", bars.slice(6_000, 100), operation="regenerate", backup=False, keep_row_groups=3)
    with pytest.raises(StoreError, match="keep_row_groups=1"):  # no file at all
        store.write("ES1", "15m", bars.head(10), operation="regenerate", backup=False, keep_row_groups=1)
    with pytest.raises(InvariantError, match="not after their last bar"):  # overlaps the kept rows
        store.write("ES1", "5m", bars.slice(3_900, 100), operation="regenerate", backup=False, keep_row_groups=2)
    assert folder_hash(settings.data_dir) == before


def test_rows_after_the_prefix_that_differ_from_their_digests_are_damage(small_groups, store: Store, bars):
    store.write("ES1", "5m", bars.head(4_500), operation="regenerate", backup=False)
    p = store.path("ES1", "5m")
    table = pq.read_table(p)
    info = pq.ParquetFile(p).metadata.metadata
    changed = pl.from_arrow(table).with_columns(
        pl.when(pl.int_range(pl.len()) == 4_400).then(pl.col("close") + 0.25).otherwise(pl.col("close"))
        .alias("close")).to_arrow().cast(table.schema)
    pq.write_table(changed.replace_schema_metadata(info), p, row_group_size=GROUP, write_page_checksum=True)
    with pytest.raises(DamagedFileError, match="row-group digests 2.. differ"):
        store.read_after_row_groups("ES1", "5m", bars["datetime"][4_400])
