"""Implausible values are refused, naming line and reason (issue 11.7).

1m bars on whole minutes; volume within int32 and within 100x the file's own 99.9th percentile;
nothing later than now plus one bar or before 1970 (``--from-file`` included); bar spacing that
fits ``--interval``; fractional Yahoo volumes reported; int64-max volumes never reach a master,
so upsampled sums cannot overflow.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.core.errors import InputError, InvariantError
from datamgr.ingest.yahoo import read_saved
from datamgr.ops.import_export import import_export
from datamgr.ops.update import update
from tests.conftest import folder_hash
from tests.ingest.nt_builders import render_fast, session_bars

LA = "America/Los_Angeles"


@pytest.fixture(scope="module")
def good_lines() -> list[bytes]:
    bars = session_bars("CME Globex Equity", dt.date(2025, 1, 7), dt.date(2025, 1, 10))
    return render_fast(bars, LA).split(b"\r\n")[:-1]


def _with(lines: list[bytes], at: int, new: bytes, replace: bool = True) -> bytes:
    out = list(lines)
    if replace:
        out[at] = new
    else:
        out.insert(at, new)
    return b"\r\n".join(out) + b"\r\n"


def _vol(line: bytes, v: int) -> bytes:
    return line.rsplit(b";", 1)[0] + b";" + str(v).encode()


NT_CASES = {
    "seconds in a 1m stamp": (lambda ls: _with(ls, 300, ls[300][:13] + b"30" + ls[300][15:]), 301,
                              "not on a whole minute"),
    "volume beyond int32": (lambda ls: _with(ls, 400, _vol(ls[400], 2**31)), 401, "beyond int32"),
    "volume 100x the file's 99.9th percentile": (lambda ls: _with(ls, 410, _vol(ls[410], 50_000_000)), 411,
                                                "99.9th percentile"),
    "a bar in 2099": (lambda ls: _with(ls, len(ls), b"20990105 093000" + ls[-1][15:], replace=False), None,
                      "later than now"),
    "a bar in 1969": (lambda ls: _with(ls, 0, b"19691231 093000" + ls[0][15:], replace=False), 1, "before 1970"),
}


@pytest.mark.parametrize("case", list(NT_CASES), ids=lambda c: c.replace(" ", "-"))
def test_an_export_row_with_an_implausible_value_is_rejected_and_strict_refuses_the_file(settings, good_lines, case):
    make, line, reason = NT_CASES[case]
    data = make(good_lines)
    plan = import_export(settings, "ES1", data, "ES.txt", dry_run=True, no_derived=True, force=True).to_json()
    hits = [r for r in plan["rejects"] if reason in r["reason"]]
    assert len(hits) == 1, plan["rejects"]
    if line is not None:
        assert hits[0]["line"] == line
    before = folder_hash(settings.data_dir)
    with pytest.raises(InputError, match="--strict"):
        import_export(settings, "ES1", data, "ES.txt", strict=True, no_derived=True, force=True)
    assert folder_hash(settings.data_dir) == before


def _yahoo(week_bars: pl.DataFrame) -> pl.DataFrame:
    return week_bars.head(50).with_columns(pl.lit("yahoo").alias("source"))


@pytest.mark.parametrize("case,reason", [
    ("future", "later than now"), ("1969", "before 1970"), ("half minute", "not on a whole minute"),
    ("int32", "beyond int32")])
def test_a_saved_yahoo_file_with_implausible_bars_has_them_quarantined(store, settings, week_bars, case, reason):
    bars = _yahoo(week_bars)
    t0 = bars["datetime"][10]
    bad = {"future": pl.col("datetime").dt.offset_by("30d"), "1969": pl.lit(dt.datetime(1969, 7, 20, tzinfo=dt.UTC)),
           "half minute": pl.col("datetime") + dt.timedelta(seconds=30), "int32": pl.col("datetime")}[case]
    row = bars.filter(pl.col("datetime") == t0).with_columns(bad.alias("datetime"))
    if case == "int32":
        row = row.with_columns(pl.lit(2**31, dtype=pl.Int64).alias("volume"))
        bars = bars.filter(pl.col("datetime") != t0)
    bars = pl.concat([bars, row])
    now = dt.datetime(2025, 3, 8, tzinfo=dt.UTC)
    res = update(settings, "ES1", bars=bars, origin="file saved.csv", now=now, dry_run=True)
    rej = res.validation.rejected
    assert rej.height >= 1 and rej["reason"].str.contains(reason).any(), rej["reason"].to_list()


def test_interval_1d_on_a_file_of_minute_bars_is_refused(store, settings, week_bars):
    before = folder_hash(settings.data_dir)
    with pytest.raises(InputError, match="does not fit --interval 1d"):
        update(settings, "ES1", interval="1d", bars=_yahoo(week_bars), origin="file saved.csv",
               now=dt.datetime(2025, 3, 8, tzinfo=dt.UTC))
    assert folder_hash(settings.data_dir) == before


def test_an_int64_max_volume_never_reaches_a_master_so_upsampled_sums_cannot_overflow(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    before = folder_hash(settings.data_dir)
    huge = week_bars.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(2**63 - 1)
                                  .otherwise(pl.col("volume")).alias("volume"))
    with pytest.raises(InvariantError, match=r"volume beyond int32 \(2147483647\): rows 5"):
        store.write("ES1", "1m", huge, operation="import")
    assert folder_hash(settings.data_dir) == before


def test_a_master_with_a_1m_bar_off_the_minute_is_refused(store, settings, week_bars):
    off = week_bars.with_columns(pl.when(pl.int_range(pl.len()) == 7)
                                 .then(pl.col("datetime") + dt.timedelta(seconds=30))
                                 .otherwise(pl.col("datetime")).alias("datetime"))
    with pytest.raises(InvariantError, match="1m bar not on a whole minute: rows 7"):
        store.write("ES1", "1m", off, operation="import")


def test_a_fractional_volume_in_a_yahoo_answer_is_reported_not_rounded():
    csv = b"Datetime,Open,High,Low,Close,Volume\n2025-03-04T15:00:00Z,5000,5001,4999,5000.25,3.7\n"
    with pytest.raises(InputError, match="Volume.*3.7.*not a whole number"):
        read_saved(csv, "saved.csv", "1m")
