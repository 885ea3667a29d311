"""HOD/LOD, profiler and levels against a plain per-day pandas computation on random days of a
large synthetic file (two years with planted gaps)."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import DEFAULT_SESSIONS
from datamgr.derived import hod_lod, levels, profiler
from datamgr.derived.resample import label_minutes
from tests.derived.builders import make_bars

CAL = get_calendar("CME Globex Equity")
ET = "America/New_York"


@pytest.fixture(scope="module")
def data():
    bars = make_bars(dt.date(2020, 1, 2), dt.date(2021, 12, 31), seed=11, drop_frac=0.01)
    lab = label_minutes(bars, CAL).frame
    days = CAL.sessions(dt.date(2019, 12, 20), dt.date(2021, 12, 31))["trading_day"]
    pdf = bars.to_pandas()
    pdf["et"] = pdf["datetime"].dt.tz_convert(ET)
    return {
        "pdf": pdf,
        "hod": {r["date"]: r for r in hod_lod.hod_lod_days(lab)},
        "prof": {r["date"]: r for r in profiler.profiler_days(lab, DEFAULT_SESSIONS, days)},
        "lev": {r["date"]: r for r in levels.level_days(lab, days, None)},
        "days": sorted(lab["td"].unique().to_list()),
    }


def window(pdf: pd.DataFrame, day: dt.date, start: str, end: str) -> pd.DataFrame:
    """Bars of ``day`` in the ET wall-clock window (a start >= 18:00 opens the evening before)."""
    def at(d: dt.date, hhmm: str) -> pd.Timestamp:
        return pd.Timestamp(f"{d} {hhmm}").tz_localize(ET)
    s_day = day - dt.timedelta(days=1) if start >= "18:00" else day
    lo = at(s_day, start)
    hi = at(s_day if end > start else s_day + dt.timedelta(days=1), end)
    return pdf[(pdf["et"] >= lo) & (pdf["et"] < hi)]


def session(pdf: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Bars of the trading day's whole session, bounds from the calendar's schedule."""
    row = CAL.sessions(day, day).row(0, named=True)
    lo, hi = pd.Timestamp(row["open"]), pd.Timestamp(row["close"])
    return pdf[(pdf["datetime"] >= lo) & (pdf["datetime"] < hi)]


def iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


def sample(data, n=12):
    return random.Random(5).sample(data["days"][5:], n)


def test_hod_lod_matches_a_per_day_computation_on_random_days(data):
    for day in sample(data):
        d = session(data["pdf"], day)
        r = data["hod"][str(day)]
        hi, lo = d.loc[d["high"].idxmax()], d.loc[d["low"].idxmin()]
        assert (r["high"], r["high_time"], r["low"], r["low_time"]) == (hi["high"], iso(hi["et"]), lo["low"], iso(lo["et"]))
        rth = window(data["pdf"], day, "09:30", "16:00")
        assert r["rth_high"] == rth["high"].max() and r["rth_low_time"] == iso(rth.loc[rth["low"].idxmin(), "et"])


def test_profiler_matches_a_per_day_computation_on_random_days(data):
    for day in sample(data):
        r = data["prof"][str(day)]
        for name, start, end in DEFAULT_SESSIONS:
            w = window(data["pdf"], day, start, end)
            s = r[name]
            assert (s["open"], s["high"], s["low"], s["close"], s["volume"]) == (
                w["open"].iloc[0], w["high"].max(), w["low"].min(), w["close"].iloc[-1], w["volume"].sum())
            assert s["high_time"] == iso(w.loc[w["high"].idxmax(), "et"])
        asia = window(data["pdf"], day, "18:00", "03:00")
        prev_day = data["days"][data["days"].index(day) - 1]
        prev_ny = window(data["pdf"], prev_day, "09:30", "16:00")
        assert r["asia"]["took_prev_high"] == (asia["high"].max() > prev_ny["high"].max())


def test_levels_match_a_per_day_computation_on_random_days(data):
    for day in sample(data):
        prev_day = data["days"][data["days"].index(day) - 1]
        prev = session(data["pdf"], prev_day)
        on = window(data["pdf"], day, "18:00", "09:30")
        rth = window(data["pdf"], day, "09:30", "16:00")
        want = {"pdh": prev["high"].max(), "pdl": prev["low"].min(), "pdc": prev["close"].iloc[-1],
                "onh": on["high"].max(), "onl": on["low"].min()}
        got = data["lev"][str(day)]["levels"]
        for name, price in want.items():
            hits = rth[(rth["low"] <= price) & (rth["high"] >= price)]
            assert got[name]["price"] == price
            assert got[name]["touched"] == (len(hits) > 0)
            assert got[name]["first_touch"] == (iso(hits["et"].iloc[0]) if len(hits) else None)
