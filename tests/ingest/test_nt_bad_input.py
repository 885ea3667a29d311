"""The bad-input catalogue: each case exits 2 with file, line and field named (or lists the rows it
rejects), and the data folder is byte-for-byte unchanged."""

from __future__ import annotations

import datetime as dt

import pytest

from datamgr.core.errors import CheckFailed, DataMgrError
from datamgr.ops.import_export import import_export
from tests.conftest import folder_hash
from tests.ingest.nt_builders import render_fast, session_bars

LA = "America/Los_Angeles"


@pytest.fixture(scope="module")
def good_lines() -> list[bytes]:
    bars = session_bars("CME Globex Equity", dt.date(2025, 1, 7), dt.date(2025, 1, 10))
    return render_fast(bars, LA).split(b"\r\n")[:-1]


@pytest.fixture
def seeded(settings, good_lines):
    """A data folder with a master made from the first half of the good export."""
    half = b"\r\n".join(good_lines[: len(good_lines) // 2]) + b"\r\n"
    import_export(settings, "ES1", half, "seed.txt", no_derived=True)
    return settings


def _with(lines: list[bytes], at: int, new: bytes, replace: bool = True) -> bytes:
    out = list(lines)
    if replace:
        out[at] = new
    else:
        out.insert(at, new)
    return b"\r\n".join(out) + b"\r\n"


PARSE_ERRORS = {
    "truncated line": (lambda ls: _with(ls, 100, ls[100][:20]), 101, "field"),
    "too many fields": (lambda ls: _with(ls, 100, ls[100] + b";7;8"), 101, "field"),
    "text in a number": (lambda ls: _with(ls, 100, ls[100].replace(b";", b";abc", 1)), 101, "open"),
    "two trailing separators": (lambda ls: _with(ls, 5, ls[5] + b";;"), 6, "field"),
    "bad date": (lambda ls: _with(ls, 7, b"2025013 " + ls[7][9:]), 8, "datetime"),
    "NUL bytes": (lambda ls: _with(ls, 3, ls[3] + b"\x00\x00"), 4, "NUL"),
    "UTF-16 file": (lambda ls: ("\r\n".join(x.decode() for x in ls[:50])).encode("utf-16"), 1, "UTF-16"),
    "empty file": (lambda ls: b"", 1, "empty"),
    "blank lines only": (lambda ls: b"\r\n\r\n  \r\n", 1, "empty"),
    "header only": (lambda ls: b"Date,Time,Open,High,Low,Close,Volume\r\n", 1, "header only"),
    "spring-forward time that does not exist": (
        lambda ls: _with(ls, len(ls) - 1, b"20250309 023000;5000;5000.25;4999.75;5000;3"), None, "do not exist"),
}


@pytest.mark.parametrize("case", list(PARSE_ERRORS), ids=lambda c: c.replace(" ", "-"))
def test_bad_input_exits_2_names_the_line_and_changes_nothing(seeded, good_lines, case):
    make, line, words = PARSE_ERRORS[case]
    before = folder_hash(seeded.data_dir)
    with pytest.raises(DataMgrError) as info:
        import_export(seeded, "ES1", make(good_lines), "ES Monday.csv", no_derived=True)
    err = info.value
    assert err.exit_code == 2
    msg = str(err)
    assert "ES Monday.csv" in msg
    if line is not None:
        assert f"line {line}" in msg
    assert words in msg
    assert folder_hash(seeded.data_dir) == before


REJECTS = {
    "out-of-order stamp": (lambda ls: _with(ls, 200, ls[10], replace=False), "out of order"),
    "duplicate stamp": (lambda ls: _with(ls, 201, ls[200].replace(b";5", b";6", 1), replace=False),
                        "duplicate"),
    "high below low": (lambda ls: _with(ls, 300, ls[300].split(b";")[0] + b";5000;4999;5001;5000;1"),
                       "high < low"),
    "negative volume": (lambda ls: _with(ls, 400, ls[400].rsplit(b";", 1)[0] + b";-5"), "negative volume"),
    "price zero": (lambda ls: _with(ls, 500, ls[500].split(b";")[0] + b";0;0;0;0;1"), "price <= 0"),
}


@pytest.mark.parametrize("case", list(REJECTS), ids=lambda c: c.replace(" ", "-"))
def test_rows_breaking_invariants_are_listed_and_strict_refuses_the_file(seeded, good_lines, case):
    make, reason = REJECTS[case]
    data = make(good_lines)
    before = folder_hash(seeded.data_dir)
    plan = import_export(seeded, "ES1", data, "ES Monday.csv", dry_run=True, no_derived=True)
    j = plan.to_json()
    assert j["rejected"] >= 1
    assert any(reason in r["reason"] for r in j["rejects"])
    assert all(r["line"] >= 1 for r in j["rejects"])
    with pytest.raises(DataMgrError) as info:
        import_export(seeded, "ES1", data, "ES Monday.csv", strict=True, no_derived=True)
    assert info.value.exit_code == 2 and "--strict" in str(info.value)
    assert folder_hash(seeded.data_dir) == before


def test_export_in_another_zone_fails_verification_with_exit_1_and_changes_nothing(seeded):
    bars = session_bars("CME Globex Equity", dt.date(2025, 1, 13), dt.date(2025, 1, 16))
    before = folder_hash(seeded.data_dir)
    with pytest.raises(CheckFailed) as info:
        import_export(seeded, "ES1", render_fast(bars, "America/New_York"), "ES NY.txt", no_derived=True)
    assert info.value.exit_code == 1
    assert "America/New_York" in str(info.value)
    assert folder_hash(seeded.data_dir) == before
