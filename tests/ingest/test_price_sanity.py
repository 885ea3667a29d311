"""Price sanity (issue 8 item 3): wrong price levels change nothing, and say why with numbers.

Real data: a window of ``MES 09-25.Last.txt`` at a tenth of its price, the SPY ETF minute export
fed into the MES master, and the Yahoo SPY daily file shifted by 1,000 points through
``update --from-file``; the data folder is hashed before and after each attempt."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import polars as pl
import pytest

from datamgr.core.errors import CheckFailed
from datamgr.ingest.sanity import check_levels
from datamgr.ops.import_export import import_export, read_input, verify_export
from datamgr.ops.update import update
from tests.conftest import REPO, folder_hash
from tests.ingest.nt_builders import make_bars
from tests.ingest.real_windows import MES, lines, render, transform
from tests.ingest.yahoo_builders import NOW


def _cli(settings, *args):
    return subprocess.run([sys.executable, "-m", "datamgr", *args, "--data-dir", str(settings.data_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture
def mes_master(real_data_dir, settings):
    rows = lines(real_data_dir / MES)
    res = import_export(settings, "MES1", render(rows[:3000]), MES, tz="UTC", no_derived=True)
    assert res.written
    return settings, rows


def test_a_file_at_a_tenth_of_the_price_is_refused_even_with_force(mes_master, tmp_path):
    settings, rows = mes_master
    tenth = transform(rows[3000:4000], scale=0.1)
    rep = verify_export(settings, "MES1", render(tenth), "tenth.txt", tz="UTC")
    assert rep.verdict == "FAIL" and rep.price_refused
    assert rep.price.ratio == pytest.approx(0.1, abs=0.005)
    assert "price sanity" in rep.message and "0.100 x" in rep.message and "median close" in rep.message
    f = tmp_path / "tenth.txt"
    f.write_bytes(render(tenth))
    before = folder_hash(settings.data_dir)
    out = _cli(settings, "import", str(f), "MES1", "1m", "--tz", "UTC", "--force", "--no-derived")
    assert out.returncode == 1
    assert "price sanity" in out.stderr and "0.100 x" in out.stderr and "never price sanity" in out.stderr
    assert folder_hash(settings.data_dir) == before
    # the same window at its real level imports
    ok = import_export(settings, "MES1", render(rows[3000:4000]), MES, tz="UTC", no_derived=True)
    assert ok.written and not ok.verify.price_refused


def test_an_etf_export_into_a_futures_master_is_refused_with_the_numbers(mes_master, real_data_dir):
    settings, _ = mes_master
    data, name = read_input(real_data_dir / "nt-spy-minute-2011-03.csv")
    before = folder_hash(settings.data_dir)
    for force in (False, True):
        with pytest.raises(CheckFailed) as err:
            import_export(settings, "MES1", data, name, tz="UTC", force=force, no_derived=True)
        # with or without --force the numbers are named (a zone failure comes first without it)
        assert "Price sanity" in str(err.value) or "price sanity" in str(err.value)
        assert "0.022 x" in str(err.value) and "median close 132.75 vs" in str(err.value)
    rep = verify_export(settings, "MES1", data, name, tz="UTC")
    assert rep.price_refused and rep.price.ratio < 0.05
    assert folder_hash(settings.data_dir) == before


def test_a_jump_inside_the_file_is_refused(settings):
    bars = make_bars(dt.datetime(2025, 3, 4, 14, 0, tzinfo=dt.UTC), 120)
    half = bars.with_columns(pl.when(pl.int_range(pl.len()) >= 60).then(pl.col(c) * 10).otherwise(pl.col(c))
                             for c in ("open", "high", "low", "close"))
    chk = check_levels(half, None, timeframe="1m", tick=0.25, what="x.txt")
    assert not chk.ok and "within x.txt" in chk.message and "(ratio 9.999, outside 0.5-2.0)" in chk.message
    step = bars.with_columns(pl.when(pl.int_range(pl.len()) >= 60).then(pl.col(c) + 400).otherwise(pl.col(c))
                             for c in ("open", "high", "low", "close"))
    chk = check_levels(step, None, timeframe="1m", tick=0.25, what="x.txt")
    assert not chk.ok and "jump 40" in chk.message and "30 x median 1m range" in chk.message
    assert check_levels(bars, None, timeframe="1m", tick=0.25).ok


def test_real_exports_pass_their_own_level_checks(real_data_dir, settings):
    for fname, ticker in ((MES, "MES1"), ("nt-spy-minute-2011.csv", "SPY"), ("nt-spy-minute-2011-03.csv", "SPY")):
        data, name = read_input(real_data_dir / fname)
        rep = verify_export(settings, ticker, data, name, tz="UTC")
        assert rep.ok and not rep.price_refused, (fname, rep.message)


def test_yahoo_daily_file_shifted_by_1000_points_is_quarantined_and_changes_nothing(real_data_dir, settings,
                                                                                     tmp_path):
    src = (real_data_dir / "spy-2011-yahoofinance.csv").read_text().splitlines()
    header, rows = src[0], [r for r in src[1:] if r.strip()]
    oldest = sorted(rows)[:150]
    res = import_export(settings, "SPY", ("\n".join([header, *oldest]) + "\n").encode(), "spy.csv",
                        no_derived=True)
    assert res.written and res.timeframe == "1d"

    def shift(r: str) -> str:
        f = r.split(",")
        return ",".join([f[0], *(f"{float(x) + 1000:.2f}" for x in f[1:5]), f[5], f[6]])

    shifted = tmp_path / "spy-shifted.csv"
    shifted.write_text("\n".join([header, *(shift(r) for r in rows)]) + "\n")
    before = folder_hash(settings.data_dir)
    out = _cli(settings, "update", "SPY", "--from-file", str(shifted), "--interval", "1d", "--json")
    assert out.returncode == 1, out.stderr
    j = json.loads(out.stdout)
    assert j["all_rejected"] and j["accepted"] == 0 and "price level" in j["reasons"]
    reason = j["rejected"][0]["reason"]
    assert "price level" in reason and "x the" in reason and "median close" in reason
    assert folder_hash(settings.data_dir) == before
    # unshifted, the same file updates
    plain = tmp_path / "spy.csv"
    plain.write_text("\n".join([header, *rows]) + "\n")
    ok = _cli(settings, "update", "SPY", "--from-file", str(plain), "--interval", "1d", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["written"], ok.stdout + ok.stderr


def test_yahoo_minute_bars_shifted_by_1000_points_are_all_quarantined(seeded):
    settings, master, yahoo = seeded
    shifted = yahoo.with_columns(pl.col(c) + 1000 for c in ("open", "high", "low", "close"))
    before = folder_hash(settings.data_dir)
    res = update(settings, "ES1", bars=shifted, origin="file shifted.csv", now=NOW, no_derived=True)
    assert res.all_rejected and not res.written
    msg = res.validation.rejected["reason"][0]
    assert "price level: junction jump of 1,000 points" in msg and "30 x median 1m range" in msg
    assert folder_hash(settings.data_dir) == before


def test_junction_allowance_grows_with_the_time_without_data():
    first = make_bars(dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC), 60)
    later = make_bars(dt.datetime(2025, 3, 4, 14, 0, tzinfo=dt.UTC), 60, price=5000.0 * 1.08)
    weeks = make_bars(dt.datetime(2025, 5, 5, 14, 0, tzinfo=dt.UTC), 60, price=5000.0 * 1.08)
    nxt = check_levels(later, first, timeframe="1m", tick=0.25, what="next.txt")
    assert not nxt.ok and "junction jump of 40" in nxt.message and "sqrt(days elapsed)" in nxt.message
    assert check_levels(weeks, first, timeframe="1m", tick=0.25).ok  # 9 weeks later, 8 % is a market move
