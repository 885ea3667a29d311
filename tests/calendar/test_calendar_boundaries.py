"""Calendar override boundaries (issue 15): ``[[opened]]`` periods on the first day of a range,
before a range, ending exactly at a close; ``[[closed]]`` periods at segment edges; label() at the
exact open and close; the overrides file's parsing rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from datamgr.calendar.overrides import AckGap, Overrides, Period, load_overrides, render
from datamgr.calendar.sessions import calendar_for, get_calendar
from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, InputError

ET = ZoneInfo("America/New_York")
D = dt.date
CME = "CME Globex Equity"
UTC_T = pl.Datetime("us", "UTC")


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET)


def counts(cal, a: dt.date, b: dt.date) -> dict[dt.date, int]:
    c = cal.expected_counts(a, b)
    return dict(zip(c["trading_day"].to_list(), c["expected"].to_list(), strict=True))


def test_an_opened_period_before_the_sunday_open_counts_on_the_first_day_of_the_range():
    # Sunday 2025-07-06 17:00-18:00 ET, before the 18:00 ET open: it belongs to Monday's session
    cal = get_calendar(CME, opened=((et(2025, 7, 6, 17), et(2025, 7, 6, 18), None),))
    assert counts(cal, D(2025, 7, 7), D(2025, 7, 7)) == {D(2025, 7, 7): 1440}
    assert counts(cal, D(2025, 7, 7), D(2025, 7, 8)) == {D(2025, 7, 7): 1440, D(2025, 7, 8): 1380}
    seg = cal.segments(D(2025, 7, 7), D(2025, 7, 7))
    assert seg["start"].min() == et(2025, 7, 6, 17)
    assert cal.trading_day_of(et(2025, 7, 6, 17)) == D(2025, 7, 7)
    assert counts(cal, D(2025, 7, 3), D(2025, 7, 4)) == {D(2025, 7, 3): 1155, D(2025, 7, 4): 1140}


def test_an_opened_period_before_the_range_is_not_moved_onto_its_first_day():
    # the halt of Tuesday 2025-07-01 (17:00-17:30 ET) traded: it is Wednesday's, whatever range is asked
    cal = get_calendar(CME, opened=((et(2025, 7, 1, 17), et(2025, 7, 1, 17, 30), None),))
    assert counts(cal, D(2025, 7, 7), D(2025, 7, 8)) == {D(2025, 7, 7): 1380, D(2025, 7, 8): 1380}
    assert counts(cal, D(2025, 7, 1), D(2025, 7, 2)) == {D(2025, 7, 1): 1380, D(2025, 7, 2): 1410}
    assert cal.segments(D(2025, 7, 7), D(2025, 7, 8))["start"].min() == et(2025, 7, 6, 18)
    lab = cal.label(pl.Series([et(2025, 7, 1, 17, 10), et(2025, 7, 7, 10)], dtype=UTC_T))
    assert lab["trading_day"].to_list() == [D(2025, 7, 2), D(2025, 7, 7)]


def test_an_opened_period_ending_exactly_at_a_close_belongs_to_that_session():
    # 2025-07-04 closes 13:00 ET; a period [12:00, 13:00) ET ends exactly there: Friday's, not Monday's
    cal = get_calendar(CME, opened=((et(2025, 7, 4, 12), et(2025, 7, 4, 13), None),))
    assert counts(cal, D(2025, 7, 4), D(2025, 7, 7)) == {D(2025, 7, 4): 1140, D(2025, 7, 7): 1380}
    # one minute later it ends after Friday's close: the next session's (Monday) period
    late = get_calendar(CME, opened=((et(2025, 7, 4, 12), et(2025, 7, 4, 13, 1), None),))
    c = counts(late, D(2025, 7, 4), D(2025, 7, 7))
    assert c == {D(2025, 7, 4): 1080, D(2025, 7, 7): 1380 + 61}


def test_an_opened_period_after_an_early_close_extends_the_day_it_is_given():
    p = (et(2025, 7, 3, 13, 15), et(2025, 7, 3, 14), D(2025, 7, 3))
    cal = get_calendar(CME, opened=(p,))
    assert counts(cal, D(2025, 7, 3), D(2025, 7, 3)) == {D(2025, 7, 3): 1155 + 45}
    nxt = get_calendar(CME, opened=(p[:2] + (None,),))
    assert counts(nxt, D(2025, 7, 3), D(2025, 7, 4)) == {D(2025, 7, 3): 1155, D(2025, 7, 4): 1140 + 45}
    assert counts(cal, D(2025, 7, 4), D(2025, 7, 4)) == {D(2025, 7, 4): 1140}  # outside the range


def test_a_closed_period_at_a_segment_edge_and_across_a_halt():
    start_edge = get_calendar(CME, closed=((et(2025, 7, 7, 18), et(2025, 7, 7, 19)),))  # Tuesday's first hour
    assert counts(start_edge, D(2025, 7, 8), D(2025, 7, 8)) == {D(2025, 7, 8): 1320}
    end_edge = get_calendar(CME, closed=((et(2025, 7, 8, 16), et(2025, 7, 8, 17)),))  # Tuesday's last hour
    assert counts(end_edge, D(2025, 7, 8), D(2025, 7, 8)) == {D(2025, 7, 8): 1320}
    across = get_calendar(CME, closed=((et(2025, 7, 8, 16, 30), et(2025, 7, 8, 18, 30)),))
    assert counts(across, D(2025, 7, 8), D(2025, 7, 9)) == {D(2025, 7, 8): 1350, D(2025, 7, 9): 1350}
    inside = get_calendar(CME, closed=((et(2025, 7, 8, 10), et(2025, 7, 8, 10, 1)),))
    seg = inside.segments(D(2025, 7, 8), D(2025, 7, 8))
    assert seg.height == 2 and seg["end"][0] == et(2025, 7, 8, 10) and seg["start"][1] == et(2025, 7, 8, 10, 1)


def test_label_is_half_open_at_the_exact_open_and_close():
    cal = get_calendar(CME)
    ts = [et(2025, 7, 7, 17, 59), et(2025, 7, 7, 18), et(2025, 7, 8, 16, 59), et(2025, 7, 8, 17)]
    lab = cal.label(pl.Series(ts, dtype=UTC_T))
    assert lab["trading_day"].to_list() == [None, D(2025, 7, 8), D(2025, 7, 8), None]
    assert lab["in_session"].to_list() == [False, True, True, False]
    assert cal.label(pl.Series([], dtype=UTC_T)).height == 0
    assert cal.expected_minutes(D(2025, 7, 5), D(2025, 7, 6)).len() == 0  # a weekend


def test_unknown_calendar_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="unknown calendar 'CME'.*CME Globex Equity"):
        get_calendar("CME")


def test_nyse_regular_and_extended_hours():
    reg = counts(get_calendar("NYSE"), D(2025, 7, 3), D(2025, 7, 3))
    ext = counts(get_calendar("NYSE extended"), D(2025, 7, 8), D(2025, 7, 8))
    assert reg == {D(2025, 7, 3): 210}  # 09:30-13:00 ET early close
    assert ext == {D(2025, 7, 8): 960}


# ----------------------------------------------------------------------------- the file
@pytest.fixture
def cfg(tmp_path) -> Settings:
    return Settings.load(data_dir=tmp_path, env={})


def test_overrides_file_times_without_offset_are_et_and_filters_apply(cfg):
    cfg.overrides_path.write_text(
        '[[closed]]\nstart = "2025-07-10T14:00:00"\nend = "2025-07-10T15:00:00"\nticker = "NQ1"\n\n'
        '[[closed]]\nstart = 2025-07-09T14:00:00-04:00\nend = 2025-07-09T14:30:00-04:00\n'
        'calendar = "CME Globex Equity"\n\n'
        '[[opened]]\nstart = "2025-07-06T17:00:00-04:00"\nend = "2025-07-06T18:00:00-04:00"\n'
        'trading_day = "2025-07-07"\nreason = "Sunday"\n', encoding="utf-8")
    ov = load_overrides(cfg.overrides_path)
    assert ov.closed[0].start == et(2025, 7, 10, 14) and ov.closed[0].start.tzinfo == dt.UTC
    assert ov.opened[0].trading_day == D(2025, 7, 7) and ov.opened[0].reason == "Sunday"
    es = counts(calendar_for(cfg, "ES1"), D(2025, 7, 7), D(2025, 7, 10))
    nq = counts(calendar_for(cfg, "NQ1"), D(2025, 7, 7), D(2025, 7, 10))
    assert es == {D(2025, 7, 7): 1440, D(2025, 7, 8): 1380, D(2025, 7, 9): 1350, D(2025, 7, 10): 1380}
    assert nq == {**es, D(2025, 7, 10): 1320}
    spy = counts(calendar_for(cfg, "SPY"), D(2025, 7, 9), D(2025, 7, 9))
    assert spy == {D(2025, 7, 9): 960}  # NYSE extended: the CME-only closure does not apply
    assert render(load_overrides(cfg.overrides_path)).count("[[") == 3
    again = cfg.overrides_path.with_name("again.toml")
    again.write_text(render(ov), encoding="utf-8")
    assert load_overrides(again) == ov


@pytest.mark.parametrize(("text", "match"), [
    ('[[closed]]\nstart = "2025-07-10T14:00:00"\nend = "2025-07-10T14:00:00"\n', r"\[\[closed\]\] entry #1 field 'end': must be after start"),
    ('[[closed]]\nend = "2025-07-10T14:00:00"\n', "field 'start': missing"),
    ('[[opened]]\nstart = "x"\nend = "2025-07-10T14:00:00"\n', "field 'start': 'x' is not an ISO 8601 time"),
    ('[[opened]]\nstart = "2025-07-10T13:00"\nend = "2025-07-10T14:00"\ntrading_day = "July"\n', "field 'trading_day'"),
    ('[[holiday]]\n', "unknown table"),
    ('[[closed]\n', "line 1"),
    ('[[acknowledged]]\nstart = "2025-07-10T13:00"\nend = "2025-07-10T14:00"\n', "field 'ticker': missing"),
    ('[[acknowledged]]\nticker = "ES1"\nstart = "2025-07-10T13:00"\nend = "2025-07-10T12:00"\n', "must not be before start"),
    ('[[acknowledged]]\nticker = "ES1"\nstart = "2025-07-10T13:00"\nend = "2025-07-10T13:00"\nmissing = "x"\n', "not an integer"),
])
def test_a_bad_overrides_file_is_refused_naming_entry_and_field(cfg, text, match):
    cfg.overrides_path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        load_overrides(cfg.overrides_path)


def test_acknowledged_entries_round_trip_and_filter_by_ticker(cfg):
    a = AckGap("ES1", et(2025, 7, 10, 10), et(2025, 7, 10, 10, 41), 42, "vendor", "2026-11-22T03:10:00-05:00")
    ov = Overrides((Period(et(2025, 7, 10, 14), et(2025, 7, 10, 15), "CME Globex Equity", "ES1", None, "x"),),
                   (), (a,))
    cfg.overrides_path.write_text(render(ov), encoding="utf-8")
    back = load_overrides(cfg.overrides_path)
    assert back == ov
    assert back.acknowledged_for("ES1") == (a,) and back.acknowledged_for("NQ1") == ()
    assert load_overrides(cfg.overrides_path.with_name("missing.toml")) == Overrides()
    assert Period(et(2025, 1, 1), et(2025, 1, 2)).applies("ES1", "NYSE")
    assert not Period(et(2025, 1, 1), et(2025, 1, 2), ticker="NQ1").applies("ES1", CME)
    assert not Period(et(2025, 1, 1), et(2025, 1, 2), calendar="NYSE").applies("ES1", CME)


def test_errors_name_the_file_and_an_entry_without_missing_counts_zero(cfg):
    cfg.overrides_path.write_text('[[closed]]\nstart = "bad"\nend = "2025-07-10T14:00:00"\n', encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_overrides(cfg.overrides_path)
    assert str(e.value).startswith(f"{cfg.overrides_path}: [[closed]] entry #1 field 'start'")
    cfg.overrides_path.write_text('[[opened]]\nstart = "2025-07-10T14:00:00"\nend = "2025-07-10T13:00:00"\n',
                                  encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_overrides(cfg.overrides_path)
    assert str(e.value) == f"{cfg.overrides_path}: [[opened]] entry #1 field 'end': must be after start"
    cfg.overrides_path.write_text('[[acknowledged]]\nticker = "ES1"\nstart = "2025-07-10T13:00"\n'
                                  'end = "2025-07-10T13:04"\n', encoding="utf-8")
    ack = load_overrides(cfg.overrides_path).acknowledged[0]
    assert (ack.missing, ack.note, ack.acknowledged_at) == (0, "", "")


def test_render_writes_non_ascii_text_as_it_is(cfg):
    ov = Overrides((Period(et(2025, 7, 10, 14), et(2025, 7, 10, 15), reason="Börse geschlossen — 停电"),))
    text = render(ov)
    assert 'reason = "Börse geschlossen — 停电"' in text
    cfg.overrides_path.write_text(text, encoding="utf-8")
    assert load_overrides(cfg.overrides_path) == ov


def test_expected_counts_come_in_trading_day_order():
    c = get_calendar(CME).expected_counts(D(2025, 6, 2), D(2025, 7, 31))
    assert c["trading_day"].to_list() == sorted(c["trading_day"].to_list())
    assert c.height == 21 + 23  # every weekday of June 2 .. July 31 2025 (Juneteenth and July 4 close early)


def test_count_in_session_equals_the_label_count_sorted_or_not_and_at_the_edges():
    cal = get_calendar(CME, closed=((et(2025, 7, 8, 10), et(2025, 7, 8, 10, 1)),))
    edges = [et(2025, 7, 3, 13, 14), et(2025, 7, 3, 13, 15), et(2025, 7, 6, 17, 59), et(2025, 7, 6, 18),
             et(2025, 7, 8, 9, 59), et(2025, 7, 8, 10), et(2025, 7, 8, 10, 1), et(2025, 7, 8, 16, 59),
             et(2025, 7, 8, 17), et(2025, 7, 8, 18), et(2025, 7, 12, 12)]
    minutes = pl.datetime_range(et(2025, 7, 2), et(2025, 7, 10), "1m", eager=True, time_zone="UTC")
    for ts in (pl.Series(edges, dtype=UTC_T), minutes, minutes.reverse(), pl.Series(edges[::-1], dtype=UTC_T)):
        assert cal.count_in_session(ts) == int(cal.label(ts)["in_session"].sum())
    assert cal.count_in_session(pl.Series([], dtype=UTC_T)) == 0
    assert cal.count_in_session(pl.Series(edges, dtype=UTC_T)) == 6
