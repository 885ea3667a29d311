"""The session calendar cache: same segments as the library calendar, keyed by its inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from datamgr.calendar import cache
from datamgr.calendar.cache import cached_segments, spec_for
from datamgr.calendar.sessions import CALENDARS, calendar_for, get_calendar
from datamgr.core.config import Settings

OVERRIDES = """
[[closed]]
start = "2025-07-10T14:00:00-04:00"
end = "2025-07-10T15:00:00-04:00"
reason = "outage"

[[opened]]
start = "2025-07-04T13:00:00-04:00"
end = "2025-07-04T14:00:00-04:00"
reason = "stayed open"
"""


def _arrays(seg):
    return (seg["trading_day"].to_numpy().astype("datetime64[D]"),
            seg["start"].dt.replace_time_zone(None).cast(int).to_numpy(),
            seg["end"].dt.replace_time_zone(None).cast(int).to_numpy())


def _same(cached, seg) -> None:
    day, start, end = _arrays(seg)
    np.testing.assert_array_equal(cached.day, day)
    np.testing.assert_array_equal(cached.start, start)
    np.testing.assert_array_equal(cached.end, end)


@pytest.fixture(autouse=True)
def _no_memory():
    cache._MEM.clear()
    yield
    cache._MEM.clear()


@pytest.mark.parametrize("name", CALENDARS)
@pytest.mark.parametrize(("first", "last"), [(dt.date(2008, 1, 2), dt.date(2013, 1, 31)),
                                             (dt.date(2021, 6, 1), dt.date(2021, 7, 9)),
                                             (dt.date(2025, 6, 1), dt.date(2025, 12, 31))])
def test_cached_segments_equal_the_library_calendar(tmp_path, name, first, last):
    spec = cache.CalendarSpec(name)
    _same(cached_segments(tmp_path, spec).between(first, last), get_calendar(name).segments(first, last))


def test_overrides_are_applied_and_select_another_cache_file(tmp_path):
    s = Settings.load(data_dir=tmp_path, env={})
    plain = cached_segments(tmp_path, spec_for(s, "ES1"))
    files = sorted((tmp_path / ".cache").glob("sessions-*.parquet"))
    assert len(files) == 1
    s.overrides_path.write_text(OVERRIDES, encoding="utf-8")
    cache._MEM.clear()
    spec = spec_for(s, "ES1")
    assert spec.closed and spec.opened
    withov = cached_segments(tmp_path, spec)
    first, last = dt.date(2025, 7, 1), dt.date(2025, 7, 15)
    _same(withov.between(first, last), calendar_for(s, "ES1").segments(first, last))
    minutes = lambda seg: int(((seg.end - seg.start) // cache.MINUTE_US).sum())  # noqa: E731
    # one hour closed (Jul 10), one hour opened after the Jul 4 early close: same total
    assert minutes(withov.between(first, last)) == minutes(plain.between(first, last))
    assert not np.array_equal(withov.between(first, last).end, plain.between(first, last).end)
    after = sorted((tmp_path / ".cache").glob("sessions-*.parquet"))
    assert len(after) == 1 and after != files  # the stale file is gone, the new one is keyed differently


def test_a_warm_cache_is_read_without_building_and_a_damaged_one_is_rebuilt(tmp_path, monkeypatch):
    spec = cache.CalendarSpec("NYSE")
    built = cached_segments(tmp_path, spec)
    (path,) = (tmp_path / ".cache").glob("sessions-*.parquet")
    cache._MEM.clear()
    calls = []
    real = cache.build_table
    monkeypatch.setattr(cache, "build_table", lambda *a: calls.append(a) or real(*a))
    again = cached_segments(tmp_path, spec)
    assert calls == []
    np.testing.assert_array_equal(again.start, built.start)
    path.write_bytes(b"not parquet")
    cache._MEM.clear()
    rebuilt = cached_segments(tmp_path, spec)
    assert len(calls) == 1
    np.testing.assert_array_equal(rebuilt.end, built.end)
    assert path.read_bytes()[:4] == b"PAR1"


def test_the_key_covers_every_input():
    base = cache.CalendarSpec("CME Globex Equity")
    t = dt.datetime(2025, 7, 10, 18, tzinfo=dt.UTC)
    keys = {cache.cache_key(base, 2000, 2028), cache.cache_key(base, 2000, 2029),
            cache.cache_key(cache.CalendarSpec("NYSE"), 2000, 2028),
            cache.cache_key(cache.CalendarSpec(base.name, ((t, t + dt.timedelta(hours=1)),)), 2000, 2028),
            cache.cache_key(cache.CalendarSpec(base.name, (), ((t, t + dt.timedelta(hours=1), None),)), 2000, 2028)}
    assert len(keys) == 5


def test_a_calendar_with_a_data_folder_answers_from_the_cache_with_the_same_frames(tmp_path):
    s = Settings.load(data_dir=tmp_path, env={})
    s.overrides_path.write_text(OVERRIDES, encoding="utf-8")
    cal = calendar_for(s, "ES1")
    assert cal.data_dir == tmp_path
    spec = spec_for(s, "ES1")
    plain = get_calendar(spec.name, spec.closed, spec.opened)
    for first, last in ((dt.date(2025, 6, 20), dt.date(2025, 7, 20)), (dt.date(2009, 3, 1), dt.date(2009, 3, 31))):
        assert cal.segments(first, last).equals(plain.segments(first, last))
        assert cal.expected_counts(first, last).equals(plain.expected_counts(first, last))
    ts = pl.Series([dt.datetime(2025, 7, 4, 17, 30, tzinfo=dt.UTC), dt.datetime(2025, 7, 10, 18, 30, tzinfo=dt.UTC),
                    dt.datetime(2025, 7, 12, 12, 0, tzinfo=dt.UTC)])
    assert cal.label(ts).equals(plain.label(ts))
    assert cal.label(ts)["in_session"].to_list() == [True, False, False]


# ---------------------------------------------------------------- mutation survivors (issue 15 item 3)
def test_an_instrument_on_an_unknown_calendar_is_refused_naming_every_choice(tmp_path):
    from datamgr.core.errors import ConfigError

    cfg = tmp_path / "datamgr.toml"
    cfg.write_text('[instruments.ZZ1]\ncalendar = "LSE"\n', encoding="utf-8")
    s = Settings.load(data_dir=tmp_path, config=cfg, env={})
    with pytest.raises(ConfigError) as e:
        spec_for(s, "ZZ1")
    assert str(e.value) == "unknown calendar 'LSE'; expected one of CME Globex Equity, NYSE extended, NYSE, XNSE"
    assert spec_for(s, "ES1").name == "CME Globex Equity"


def test_segments_cover_a_range_only_from_its_first_to_its_last_day():
    seg = cache.Segments(np.array(["2025-01-06", "2025-01-07", "2025-01-08"], dtype="datetime64[D]"),
                         np.array([0, 10, 20], dtype=np.int64), np.array([5, 15, 25], dtype=np.int64))
    d = dt.date
    assert seg.covers(d(2025, 1, 6), d(2025, 1, 8)) and seg.covers(d(2025, 1, 7), d(2025, 1, 7))
    assert not seg.covers(d(2025, 1, 5), d(2025, 1, 8))  # starts before the first day
    assert not seg.covers(d(2025, 1, 6), d(2025, 1, 9))  # ends after the last day
    assert not seg.covers(d(2025, 1, 5), d(2025, 1, 9))
    empty = cache.Segments(np.array([], dtype="datetime64[D]"), np.array([], np.int64), np.array([], np.int64))
    assert not empty.covers(d(2025, 1, 6), d(2025, 1, 6))


def test_a_cache_that_cannot_be_written_is_skipped_with_a_debug_line(tmp_path, caplog):
    (tmp_path / ".cache").write_text("not a folder", encoding="utf-8")  # mkdir fails: an OSError
    spec = cache.CalendarSpec("NYSE")
    with caplog.at_level("DEBUG", logger="datamgr.calendar.cache"):
        seg = cached_segments(tmp_path, spec, dt.date(1990, 1, 2))  # a year range of its own: built here
    _same(seg.between(dt.date(2025, 1, 6), dt.date(2025, 1, 10)),
          get_calendar("NYSE").segments(dt.date(2025, 1, 6), dt.date(2025, 1, 10)))
    assert any("session cache not written" in m for m in caplog.messages)
    assert (tmp_path / ".cache").read_text(encoding="utf-8") == "not a folder"
