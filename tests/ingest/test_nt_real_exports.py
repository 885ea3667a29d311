"""The real NinjaTrader exports: what zone detection concludes is checked against an independent
computation (plain Python: csv + zoneinfo + the exchange's published hours, no datamgr code), and
the imported bar counts and ranges against the file's own lines."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.ingest.ninjatrader.parse import parse_export
from datamgr.ingest.ninjatrader.verify import CANDIDATE_ZONES, rank_zones
from datamgr.ops.import_export import import_export, read_input, verify_export
from datamgr.store.store import Store

UTC = dt.UTC
CT, ET = ZoneInfo("America/Chicago"), ZoneInfo("America/New_York")


def _cme_open(t: dt.datetime) -> bool:
    """CME Globex equity hours in CT: Sun 17:00 - Fri 16:00, daily halt 16:00-17:00."""
    c = t.astimezone(CT)
    wd, hm = c.weekday(), (c.hour, c.minute)
    if wd == 5 or (wd == 6 and hm < (17, 0)) or (wd == 4 and hm >= (16, 0)):
        return False
    return not ((16, 0) <= hm < (17, 0))


def _nyse_ext_open(t: dt.datetime) -> bool:
    """NYSE extended hours: 04:00-20:00 ET, Monday to Friday."""
    e = t.astimezone(ET)
    return e.weekday() < 5 and (4, 0) <= (e.hour, e.minute) < (20, 0)


def _stamps(path) -> list[dt.datetime]:
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(dt.datetime.strptime(line.split(";")[0], "%Y%m%d %H%M%S"))
    return out


def independent_ranking(stamps: list[dt.datetime], is_open) -> list[tuple[int, str, str]]:
    """(bars inside the published hours, zone, stamp) for every candidate, best first."""
    out = []
    for tz in CANDIDATE_ZONES:
        z = ZoneInfo(tz)
        for stamp, shift in (("close", 1), ("open", 0)):
            n = sum(is_open(s.replace(tzinfo=z).astimezone(UTC) - dt.timedelta(minutes=shift)) for s in stamps)
            out.append((n, tz, stamp))
    return sorted(out, key=lambda x: -x[0])


CASES = [
    ("MES 09-25.Last.txt", "MES1", _cme_open),
    ("nt-spy-minute-2011.csv", "SPY", _nyse_ext_open),
    ("nt-spy-minute-2011-03.csv", "SPY", _nyse_ext_open),
]


@pytest.mark.parametrize("fname,ticker,is_open", CASES, ids=[c[0] for c in CASES])
def test_zone_detection_on_real_exports_agrees_with_an_independent_count(real_data_dir, settings, fname,
                                                                        ticker, is_open):
    path = real_data_dir / fname
    indep = independent_ranking(_stamps(path), is_open)
    best_n, best_tz, best_stamp = indep[0]
    assert best_n > indep[1][0], "the independent count itself must single out one candidate"
    inst = settings.instrument(ticker)
    parsed = parse_export(path.read_bytes(), fname)
    ranking = rank_zones(parsed, get_calendar(inst.calendar), configured_tz=inst.import_tz, tick=inst.tick_size)
    assert (ranking[0].tz, ranking[0].stamp) == (best_tz, best_stamp)
    assert ranking[0].score - ranking[1].score >= 0.02
    # verify with the instrument's default zone: FAIL naming the fitting zone unless it is the default
    data, name = read_input(path)
    rep = verify_export(settings, ticker, data, name)
    if (inst.import_tz, "close") == (best_tz, best_stamp):
        assert rep.verdict == "SUCCESS"
    else:
        assert rep.verdict == "FAIL" and best_tz in rep.message and rep.message.startswith("FAIL: ")
    good = verify_export(settings, ticker, data, name, tz=best_tz, stamp=best_stamp)
    assert good.message == "SUCCESS: Data is aligned."


@pytest.mark.parametrize("fname,ticker,is_open", CASES, ids=[c[0] for c in CASES])
def test_real_export_imports_with_the_bar_count_and_range_of_its_lines(real_data_dir, settings, fname, ticker,
                                                                       is_open):
    path = real_data_dir / fname
    stamps = _stamps(path)
    _, tz, stamp = independent_ranking(stamps, is_open)[0]
    z = ZoneInfo(tz)
    shift = dt.timedelta(minutes=1 if stamp == "close" else 0)
    opens = sorted({s.replace(tzinfo=z).astimezone(UTC) - shift for s in stamps})
    data, name = read_input(path)
    res = import_export(settings, ticker, data, name, tz=tz, stamp=stamp, no_derived=True)
    assert res.written and res.write.backup is None
    meta = Store(settings).read_meta(ticker, "1m")
    assert meta.rows == len(opens) == len(stamps)
    assert (meta.start, meta.end) == (opens[0], opens[-1])
    j = res.to_json()
    assert j["rows_read"] == len(stamps) and j["rejected"] == 0 and j["new"] == len(stamps)
    assert j["outside_session"] == sum(not is_open(t) for t in opens) or ticker == "MES1"
    # importing the same file again changes nothing: no write, no backup, same generation
    before = sorted(p.name for p in settings.data_dir.rglob("*"))
    again = import_export(settings, ticker, data, name, tz=tz, stamp=stamp, no_derived=True)
    assert not again.written and again.plan.identical == len(stamps) and again.plan.new == 0
    assert Store(settings).read_meta(ticker, "1m").generation == meta.generation
    assert sorted(p.name for p in settings.data_dir.rglob("*")) == before
    # with the master in place, verify reports a full overlap that matches exactly
    rep = verify_export(settings, ticker, data, name, tz=tz, stamp=stamp)
    assert rep.overlap.bars == len(stamps) and rep.overlap.match_rate == 1.0
    assert rep.overlap.best_shift_minutes == 0 and rep.overlap.volume_ratio == 1.0


def test_yahoo_daily_csv_newest_first_is_read_as_daily_bars_oldest_first(real_data_dir, settings):
    path = real_data_dir / "spy-2011-yahoofinance.csv"
    rows = [ln.split(",") for ln in path.read_text().splitlines()[1:] if ln.strip()]
    dates = sorted(dt.date.fromisoformat(r[0]) for r in rows)
    data, name = read_input(path)
    rep = verify_export(settings, "SPY", data, name)
    assert rep.format == "csv-header-daily" and rep.verdict == "SUCCESS"
    assert rep.rows_parsed == len(rows) and not rep.rejects
    assert (rep.start.date(), rep.end.date()) == (dates[0], dates[-1])
    assert any("newest first" in n for n in rep.notes)
    res = import_export(settings, "SPY", data, name, no_derived=True)
    assert res.timeframe == "1d" and Store(settings).read_meta("SPY", "1d").rows == len(rows)
