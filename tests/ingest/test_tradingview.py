"""TradingView "Export chart data" CSV: the same bars as a NinjaTrader export give the same master.

The TradingView files are written here from the real MES NinjaTrader export with plain Python
(csv-free string formatting, datetime/zoneinfo; no datamgr code): the NT close stamp in UTC minus
one minute is the bar's open, written as UNIX seconds or ISO 8601 with an ET offset, plus
indicator columns that must be ignored."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from datamgr.core.config import Settings
from datamgr.core.errors import InputError, ParseError
from datamgr.ingest.draft import ImportDraft, parse_file
from datamgr.ops.import_export import import_export
from datamgr.store.store import Store
from tests.conftest import folder_hash

ROOT = Path(__file__).resolve().parents[2]
MES = "MES 09-25.Last.txt"
ET = ZoneInfo("America/New_York")
OHLCV = ["datetime", "open", "high", "low", "close", "volume"]


def _nt_lines(real_data_dir: Path) -> list[str]:
    return [ln for ln in (real_data_dir / MES).read_text().splitlines() if ln.strip()]


def to_tradingview(nt_lines: list[str], time_style: str = "unix") -> bytes:
    """A TradingView export of the bars of NinjaTrader lines stamped in UTC at the bar close."""
    out = ["time,open,high,low,close,Volume,Volume MA,Plot"]
    for i, ln in enumerate(nt_lines):
        stamp, o, h, lo, c, v = ln.split(";")
        opened = dt.datetime.strptime(stamp, "%Y%m%d %H%M%S").replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1)
        t = str(int(opened.timestamp())) if time_style == "unix" else opened.astimezone(ET).isoformat()
        ma = "NaN" if i < 20 else f"{100 + i % 7}.5"
        out.append(f"{t},{o},{h},{lo},{c},{v},{ma},{float(c) * 1.001:.4f}")
    return ("\n".join(out) + "\n").encode()


def _nt(nt_lines: list[str]) -> bytes:
    return ("\r\n".join(nt_lines) + "\r\n").encode()


def _import(tmp_path: Path, name: str, data: bytes, fname: str, **kw) -> pl.DataFrame:
    d = tmp_path / name
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    res = import_export(s, "MES1", data, fname, no_derived=True, **kw)
    assert res.written, res.to_json()["message"]
    return Store(s).read("MES1", "1m")


@pytest.mark.parametrize("window", [(0, 54_204), (0, 3_000), (20_000, 22_500), (51_000, 54_204)],
                         ids=["whole-file", "first-window", "middle-window", "last-window"])
def test_a_tradingview_export_of_the_same_bars_gives_the_same_master_as_the_ninjatrader_export(
        real_data_dir, tmp_path, window):
    nt = _nt_lines(real_data_dir)[slice(*window)]
    from_nt = _import(tmp_path, "nt", _nt(nt), MES, tz="UTC")
    from_tv = _import(tmp_path, "tv", to_tradingview(nt), "MES1! chart.csv")  # no zone given: the file has it
    assert from_tv.height == len(nt)
    assert from_tv.select(OHLCV).equals(from_nt.select(OHLCV))
    assert from_tv["source"].unique().to_list() == ["tradingview"]


def test_iso_times_with_an_offset_read_like_unix_seconds(real_data_dir, tmp_path):
    nt = _nt_lines(real_data_dir)[:4_000]  # June: ET is UTC-4
    unix = _import(tmp_path, "unix", to_tradingview(nt, "unix"), "a.csv")
    iso = _import(tmp_path, "iso", to_tradingview(nt, "iso"), "b.csv")
    assert iso.select(OHLCV).equals(unix.select(OHLCV))
    first = to_tradingview(nt, "iso").split(b"\n")[1].split(b",")[0].decode()
    assert first.endswith("-04:00")


def test_tradingview_bars_identical_to_the_ninjatrader_master_change_nothing(real_data_dir, tmp_path):
    nt = _nt_lines(real_data_dir)[:5_000]
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    import_export(s, "MES1", _nt(nt), MES, tz="UTC", no_derived=True)
    before = folder_hash(d)
    res = import_export(s, "MES1", to_tradingview(nt[:2_000] + nt[-10:]), "tv.csv", no_derived=True)
    assert res.plan.identical == 2_010 and not res.written and folder_hash(d) == before
    rep = ImportDraft(s, to_tradingview(nt), "tv.csv").verify("MES1")
    assert rep.ok and rep.tz == "UTC" and rep.stamp == "open" and rep.overlap.match_rate == 1.0


def test_detection_is_by_header_and_the_page_and_sop_scripts_accept_it(real_data_dir, tmp_path):
    nt = _nt_lines(real_data_dir)[:2_000]
    p = parse_file(to_tradingview(nt), "whatever.txt")
    assert p.format == "tradingview" and p.source == "tradingview" and p.zone == "UTC"
    f = tmp_path / "MES chart.csv"
    f.write_bytes(to_tradingview(nt))
    d = tmp_path / "data"
    d.mkdir()
    v = subprocess.run([sys.executable, "scripts/verify_import_alignment.py", str(f), "MES1", "--json",
                        "--data-dir", str(d)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert v.returncode == 0, v.stderr
    assert json.loads(v.stdout)["format"] == "tradingview"
    i = subprocess.run([sys.executable, "scripts/import_ninjatrader.py", str(f), "MES1", "1m", "--json",
                        "--no-derived", "--data-dir", str(d)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert i.returncode == 0, i.stderr
    j = json.loads(i.stdout)
    assert j["source"] == "tradingview" and j["new"] == 2_000


BAD = {
    "text in a price": (lambda rows: rows[:5] + [rows[5].replace(",", ",abc", 1)] + rows[6:], 7, "open"),
    "fractional volume": (lambda rows: rows[:3] + [_set(rows[3], 5, "12.5")] + rows[4:], 5, "volume"),
    "missing field": (lambda rows: rows[:8] + [rows[8].rsplit(",", 1)[0]] + rows[9:], 10, None),
    "a time without offset among offset times": (
        lambda rows: rows[:4] + [_set(rows[4], 0, "2025-06-12T04:00:00")] + rows[5:], 6, "time"),
    "a time that is not a time": (lambda rows: rows[:2] + [_set(rows[2], 0, "soon")] + rows[3:], 4, "time"),
}


def _set(row: str, i: int, value: str) -> str:
    f = row.split(",")
    f[i] = value
    return ",".join(f)


@pytest.mark.parametrize("case", list(BAD), ids=lambda c: c.replace(" ", "-"))
def test_bad_tradingview_input_names_file_line_and_field_and_changes_nothing(real_data_dir, tmp_path, case):
    nt = _nt_lines(real_data_dir)[:50]
    text = to_tradingview(nt, "iso").decode().splitlines()
    make, line, field = BAD[case]
    data = ("\n".join([text[0], *make(text[1:])]) + "\n").encode()
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    import_export(s, "MES1", _nt(nt[:10]), MES, tz="UTC", no_derived=True, force=True)
    before = folder_hash(d)
    with pytest.raises(ParseError) as err:
        import_export(s, "MES1", data, "tv bad.csv", no_derived=True)
    assert err.value.file == "tv bad.csv" and err.value.line == line and f"line {line}" in str(err.value)
    if field:
        assert err.value.field == field and f"'{field}'" in str(err.value)
    assert folder_hash(d) == before


def test_times_without_offset_need_a_zone_and_are_read_in_it(real_data_dir, tmp_path):
    nt = _nt_lines(real_data_dir)[:3_000]
    naive = [",".join([r.split(",")[0][:19], *r.split(",")[1:]]) for r in
             to_tradingview(nt, "iso").decode().splitlines()[1:]]
    data = ("time,open,high,low,close,Volume\n" + "\n".join(",".join(r.split(",")[:6]) for r in naive)
            + "\n").encode()
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    before = folder_hash(d)
    with pytest.raises(InputError) as err:
        import_export(s, "MES1", data, "naive.csv", no_derived=True)
    assert err.value.line == 2 and err.value.field == "time" and "naive.csv" in str(err.value)
    assert "no UTC offset" in str(err.value) and folder_hash(d) == before
    f = tmp_path / "naive.csv"
    f.write_bytes(data)
    cli = subprocess.run([sys.executable, "-m", "datamgr", "import", str(f), "MES1", "--data-dir", str(d)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and "naive.csv: line 2 field 'time'" in cli.stderr and folder_hash(d) == before
    got = _import(tmp_path, "naive", data, "naive.csv", tz="America/New_York")
    ref = _import(tmp_path, "ref", _nt(nt), MES, tz="UTC")
    assert got.select(OHLCV).equals(ref.select(OHLCV))
