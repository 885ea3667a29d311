"""A damaged footer never turns into silently different bars, a traceback, or a write (issue 11.1).

Reads check the decoded bars against the footer's own metadata (``content_sha256``, row count,
start/end and the datetime statistics); a mismatch or any decoder failure -- a polars
``PanicException`` included -- is a :class:`DamagedFileError` naming a backup to restore from,
and every operation that would write over the file stops before writing.
"""

from __future__ import annotations

import datetime as dt
import struct

import polars as pl
import pytest

from datamgr.core.errors import DamagedFileError, StoreError
from datamgr.health.integrity import scan as integrity_scan  # noqa: F401 - imported: the health layer loads
from datamgr.ops.demo import make_demo_bars, write_demo
from datamgr.ops.inventory import scan
from datamgr.ops.update import update
from datamgr.store.store import content_sha256, load_bars, read_footer
from tests.conftest import folder_hash


def footer_span(data: bytes) -> tuple[int, int]:
    """Byte range of the Parquet footer: the thrift FileMetaData, its length and the magic."""
    assert data[-4:] == b"PAR1"
    n = struct.unpack("<I", data[-8:-4])[0]
    return len(data) - 8 - n, len(data)


@pytest.fixture
def small_master(store, settings):
    bars = make_demo_bars(dt.date(2025, 3, 4), dt.date(2025, 3, 4), seed=3).head(120)
    store.write("ES1", "1m", bars, operation="test")
    return settings.bar_path("ES1", "1m"), bars


def damage_footer(path) -> None:
    """A realistic footer flip: the ``source`` column renamed (every bar would read as legacy)."""
    data = bytearray(path.read_bytes())
    lo, hi = footer_span(bytes(data))
    foot = bytes(data[lo:hi]).replace(b"source", b"sourcf")
    data[lo:hi] = foot
    path.write_bytes(bytes(data))


def test_every_single_bit_flip_in_the_footer_is_caught_or_changes_nothing(store, settings, small_master):
    path, bars = small_master
    good = path.read_bytes()
    want = content_sha256(bars)
    lo, hi = footer_span(good)
    silent, crashed, caught, harmless = [], [], 0, 0
    for i in range(lo, hi):
        data = bytearray(good)
        data[i] ^= 1 << (i % 8)
        path.write_bytes(bytes(data))
        try:
            got = store.read("ES1", "1m")
        except StoreError as err:  # DamagedFileError: the clear "restore from backup" error
            assert str(err).startswith("file damaged: ES1_1m.parquet") and "Nothing was written" in str(err)
            caught += 1
        except BaseException as err:  # noqa: BLE001 - a panic or any other traceback is a failure
            if isinstance(err, KeyboardInterrupt):
                raise
            crashed.append((i, type(err).__name__, str(err)[:80]))
        else:
            if content_sha256(got) != want:
                silent.append(i)
            else:
                harmless += 1
        read_footer(path)  # the inventory's footer read never raises either
    path.write_bytes(good)
    assert silent == [], f"{len(silent)} flips changed the bars silently (offsets {silent[:10]})"
    assert crashed == [], f"{len(crashed)} flips raised something else: {crashed[:5]}"
    assert caught > 0 and caught + harmless == hi - lo


def test_a_renamed_source_column_is_damage_not_a_legacy_file(store, small_master):
    path, _ = small_master
    damage_footer(path)
    with pytest.raises(DamagedFileError, match="does not match its footer|cannot be read"):
        store.read("ES1", "1m")


def test_a_write_over_a_damaged_master_is_refused_naming_the_backup_and_nothing_changes(
        store, settings, small_master):
    path, bars = small_master
    store.write("ES1", "1m", bars.with_columns(pl.col("volume") + 1), operation="test")  # makes a backup
    damage_footer(path)
    before = folder_hash(settings.data_dir)
    with pytest.raises(DamagedFileError, match=r"file damaged: .*Restore it from backup backups/ES1_1m\.\d{8}T\d{6}Z"):
        store.write("ES1", "1m", bars, operation="import")
    assert folder_hash(settings.data_dir) == before


def test_update_and_demo_refuse_a_damaged_master_and_write_nothing(store, settings, small_master):
    path, bars = small_master
    damage_footer(path)
    before = folder_hash(settings.data_dir)
    later = bars.tail(1).with_columns(pl.col("datetime") + dt.timedelta(minutes=1), pl.lit("yahoo").alias("source"))
    with pytest.raises(DamagedFileError):
        update(settings, "ES1", bars=later, origin="file", now=dt.datetime(2025, 3, 5, tzinfo=dt.UTC))
    res = write_demo(settings, "ES1", months=1, end=dt.date(2025, 3, 7), derived=False)
    assert not res.written and "damaged" in res.message
    assert folder_hash(settings.data_dir) == before


def test_the_inventory_flags_a_master_found_damaged(store, settings, small_master):
    path, _ = small_master
    damage_footer(path)
    with pytest.raises(DamagedFileError):
        load_bars(path)
    master = next(f for f in scan(settings) if f.name == path.name)
    assert any("damaged" in fl or "not the ones datamgr wrote" in fl for fl in master.flags), master.flags


def test_a_restore_replaces_a_damaged_master_and_marks_its_copy_damaged(store, settings, small_master):
    from datamgr.ops.restore import plan_restore, restore
    from datamgr.store.backup import list_backups, verify_backups

    path, bars = small_master
    store.write("ES1", "1m", bars.with_columns(pl.col("volume") + 1), operation="test")
    good_backup = list_backups(settings)[0].path
    damage_footer(path)
    plan = plan_restore(settings, good_backup)
    assert plan.current_damaged
    res = restore(settings, good_backup, expect_generation=plan.current_generation)
    assert res.written and store.read("ES1", "1m").equals(bars)
    copy = next(r for r in verify_backups(settings) if r.path == res.backup.path)
    assert copy.damaged and not copy.ok


def wrong_hash_in_footer(path) -> None:
    """A footer that parses and agrees with itself, but whose content hash is not the bars' own."""
    data = path.read_bytes()
    i = data.index(b'"content_sha256": "') + len(b'"content_sha256": "')
    flipped = b"0" if data[i:i + 1] != b"0" else b"1"
    path.write_bytes(data[:i] + flipped + data[i + 1:])


def test_a_content_hash_mismatch_is_flagged_by_the_inventory_and_named_by_health(store, settings, small_master):
    from datamgr.core.errors import CheckFailed
    from datamgr.health.report import check_health

    path, _ = small_master
    wrong_hash_in_footer(path)
    assert not read_footer(path).problems  # nothing in the footer alone betrays it
    with pytest.raises(CheckFailed, match="integrity: file damaged: ES1_1m.parquet: does not match its footer"):
        check_health(settings, "ES1", now=dt.datetime(2025, 3, 5, tzinfo=dt.UTC))
    master = next(f for f in scan(settings) if f.name == path.name)
    assert any(fl.startswith("damaged: ") and "content hash" in fl for fl in master.flags), master.flags
