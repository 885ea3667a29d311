"""Zone / stamp verdict boundaries (issue 15) on synthetic exports built for each case: the
near-tie "cannot tell apart" path, the right zone with the wrong stamp convention, the one-tick
match tolerance (1 tick matches, 2 do not), and the 90 % overlap threshold."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.ingest.ninjatrader.parse import parse_export
from datamgr.ingest.ninjatrader.verify import (
    MATCH_OK,
    MIN_OVERLAP,
    match_count,
    overlap_stats,
    rank_zones,
    verify_parsed,
)
from tests.ingest.nt_builders import make_bars, render_fast, session_bars

CME = get_calendar("CME Globex Equity")
TICK = 0.25


@pytest.fixture(scope="module")
def two_days() -> pl.DataFrame:
    """Every expected minute of two CME sessions (2025-01-07 and 08)."""
    return session_bars("CME Globex Equity", dt.date(2025, 1, 7), dt.date(2025, 1, 8))


def _verify(bars: pl.DataFrame, tz: str, stamp: str, *, written_tz: str = "UTC", written_stamp: str = "close",
            master: pl.DataFrame | None = None):
    parsed = parse_export(render_fast(bars, written_tz, written_stamp), "x.txt")
    rep, _ = verify_parsed(parsed, CME, tz=tz, stamp=stamp, master=master, tick=TICK)
    return rep


def test_full_sessions_in_the_right_zone_and_stamp_succeed(two_days):
    rep = _verify(two_days, "UTC", "close")
    assert rep.verdict == "SUCCESS", rep.message
    best, second = rep.zone_ranking[:2]
    assert (best.tz, best.stamp, best.in_session, best.edge_fit) == ("UTC", "close", 1.0, 1.0)
    assert best.score - second.score >= 0.02
    assert rep.outside_session == 0 and rep.rows_parsed == two_days.height


def test_right_zone_with_the_open_stamp_convention_fails_and_names_the_close_convention(two_days):
    rep = _verify(two_days, "UTC", "open")
    assert rep.verdict == "FAIL"
    assert "fit UTC with close stamps" in rep.message and "--stamp close" in rep.message
    mine = next(z for z in rep.zone_ranking if (z.tz, z.stamp) == ("UTC", "open"))
    # every session's last bar lands one minute after the close: half the run edges are out
    assert mine.edge_fit == pytest.approx(0.5)
    assert rep.outside_session == 2


def test_open_stamped_file_checked_as_open_succeeds_and_as_close_fails(two_days):
    assert _verify(two_days, "UTC", "open", written_stamp="open").verdict == "SUCCESS"
    rep = _verify(two_days, "UTC", "close", written_stamp="open")
    assert rep.verdict == "FAIL" and "--stamp open" in rep.message


def test_wrong_zone_fails_and_names_the_zone_the_bars_fit(two_days):
    rep = _verify(two_days, "America/New_York", "close", written_tz="America/Chicago")
    assert rep.verdict == "FAIL"
    assert 'fit America/Chicago with close stamps' in rep.message
    assert '--tz "America/Chicago"' in rep.message


def _master(bars: pl.DataFrame, n: int, off_ticks: int, bad: int) -> pl.DataFrame:
    """The first ``n`` bars, ``bad`` of them with every price moved by ``off_ticks`` ticks, up and down in
    turn (one constant offset for every bar would be read as another contract month, not a mismatch)."""
    head = bars.head(n).with_row_index("_i")
    sign = pl.when(pl.col("_i") % 2 == 0).then(1.0).otherwise(-1.0)
    move = pl.when(pl.col("_i") < bad).then(off_ticks * TICK * sign).otherwise(0.0)
    return head.with_columns(*(pl.col(c) + move for c in ("open", "high", "low", "close"))).drop("_i")


def test_one_tick_off_still_matches_two_ticks_off_does_not(two_days):
    ok = _verify(two_days, "UTC", "close", master=_master(two_days, 200, 1, 200))
    assert ok.overlap.bars == 200 and ok.overlap.match_rate == 1.0 and ok.verdict == "SUCCESS"
    bad = _verify(two_days, "UTC", "close", master=_master(two_days, 200, 2, 200))
    assert bad.overlap.bars == 200 and bad.overlap.match_rate == 0.0
    assert bad.verdict == "FAIL" and "only 0.0% of 200 overlapping bars match" in bad.message


def test_match_count_tolerance_is_exactly_one_tick():
    b = make_bars(dt.datetime(2025, 1, 8, 15, 0, tzinfo=dt.UTC), 4)
    for ticks, good in ((0, 4), (1, 4), (1.01, 0), (2, 0), (4, 0)):
        m = b.with_columns(pl.col("close") + ticks * TICK)
        assert match_count(b, m, TICK) == (4, good), ticks
    assert match_count(b, b.with_columns(pl.col("datetime") + dt.timedelta(minutes=1)), TICK, 1) == (4, 4)


@pytest.mark.parametrize(("bad", "verdict"), [(0, "SUCCESS"), (20, "SUCCESS"), (21, "FAIL"), (60, "FAIL"),
                                              (100, "FAIL")])
def test_overlap_match_threshold_is_90_percent(two_days, bad, verdict):
    rep = _verify(two_days, "UTC", "close", master=_master(two_days, 200, 3, bad))
    assert rep.overlap.bars == 200
    assert rep.overlap.match_rate == pytest.approx((200 - bad) / 200)
    assert rep.verdict == verdict, rep.message
    assert (rep.overlap.match_rate >= MATCH_OK) == (verdict == "SUCCESS")


def test_an_overlap_below_min_overlap_bars_is_not_judged_by_matches(two_days):
    few = MIN_OVERLAP - 1
    rep = _verify(two_days, "UTC", "close", master=_master(two_days, few, 3, few))
    assert rep.overlap.bars == few and rep.overlap.match_rate == 0.0
    assert rep.verdict == "SUCCESS"
    exact = _verify(two_days, "UTC", "close", master=_master(two_days, MIN_OVERLAP, 3, MIN_OVERLAP))
    assert exact.verdict == "FAIL"


def test_overlap_stats_find_the_shift_and_the_volume_ratio(two_days):
    master = two_days.head(300).with_columns(pl.col("datetime") + dt.timedelta(minutes=60),
                                             pl.col("volume") * 2)
    ov = overlap_stats(two_days.head(400), master, TICK)
    assert ov.best_shift_minutes == 60
    assert ov.bars > 0
    same = overlap_stats(two_days.head(400), two_days.head(300).with_columns(pl.col("volume") * 2), TICK)
    assert (same.bars, same.match_rate, same.best_shift_minutes) == (300, 1.0, 0)
    assert same.volume_ratio == pytest.approx(0.5)
    assert overlap_stats(two_days.head(5), None, TICK).bars == 0
    assert overlap_stats(two_days.head(5), two_days.clear(), TICK).match_rate is None


def test_a_shifted_file_fails_and_reports_the_best_shift(two_days):
    rep = _verify(two_days, "UTC", "close", master=two_days.with_columns(pl.col("datetime") + dt.timedelta(minutes=3)))
    assert rep.verdict == "FAIL"
    assert "best whole-minute shift is +3 min" in rep.message and rep.overlap.best_shift_minutes == 3


def test_rank_zones_returns_every_candidate_with_the_given_zone_added():
    bars = make_bars(dt.datetime(2025, 1, 8, 15, 0, tzinfo=dt.UTC), 30)
    parsed = parse_export(render_fast(bars, "UTC"), "x.txt")
    ranking = rank_zones(parsed, CME, configured_tz="Europe/London")
    assert {(z.tz, z.stamp) for z in ranking} == {
        (tz, st) for tz in ("UTC", "America/Los_Angeles", "America/Chicago", "America/New_York", "Europe/London")
        for st in ("close", "open")}
    assert all(z.match_rate is None for z in ranking)


def test_daily_file_skips_zone_detection_and_five_minute_bars_fail():
    days = make_bars(dt.datetime(2025, 1, 6, tzinfo=dt.UTC), 5, step_min=1440)
    text = "\r\n".join(f"{r[0]:%Y%m%d};{r[1]};{r[2]};{r[3]};{r[4]};{r[5]}" for r in days.iter_rows()) + "\r\n"
    rep, _ = verify_parsed(parse_export(text.encode(), "d.txt"), CME, tz="UTC")
    assert rep.verdict == "SUCCESS" and rep.stamp == "date" and rep.zone_ranking == []
    assert any("zone detection does not apply" in n for n in rep.notes)
    five = make_bars(dt.datetime(2025, 1, 8, 15, 0, tzinfo=dt.UTC), 40, step_min=5)
    rep5, _ = verify_parsed(parse_export(render_fast(five, "UTC"), "f.txt"), CME, tz="UTC")
    assert rep5.verdict == "FAIL" and "5-minute bars" in rep5.message and rep5.interval_minutes == 5
    assert rep5.interval_inferred and any("interval inferred" in n for n in rep5.notes)


def test_every_row_rejected_is_a_fail_with_the_rejects_listed():
    bars = make_bars(dt.datetime(2025, 1, 8, 15, 0, tzinfo=dt.UTC), 3).with_columns(pl.col("low") + 100)
    rep, placed = verify_parsed(parse_export(render_fast(bars, "UTC"), "r.txt"), CME, tz="UTC")
    assert rep.verdict == "FAIL" and "no valid bars" in rep.message
    assert len(rep.rejects) == 3 and rep.to_json()["rejected"] == 3 and placed.bars.height == 0


def test_the_wrong_convention_message_quotes_both_scores(two_days):
    rep = _verify(two_days, "UTC", "open")
    best = rep.zone_ranking[0]
    mine = next(z for z in rep.zone_ranking if (z.tz, z.stamp) == ("UTC", "open"))
    assert rep.message.startswith(f"FAIL: the bars fit UTC with close stamps (score {best.score:.3f}), "
                                  f"not the given UTC with open stamps (score {mine.score:.3f})")
    assert rep.message.endswith('re-run with --tz "UTC" --stamp close.')


def test_the_report_json_carries_every_field_of_the_cli_payload(two_days):
    bars = two_days.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(pl.col("low") + 100)
                                 .otherwise(pl.col("low")).alias("low"))
    rep = _verify(bars, "UTC", "close", master=two_days.head(100))
    j = rep.to_json()
    assert set(j) >= {"verdict", "message", "tz", "stamp", "interval", "interval_inferred", "format", "rows_read",
                       "rows_parsed", "rejected", "rejects", "zone_ranking", "overlap", "start", "end",
                       "outside_session", "notes"}
    assert (j["verdict"], j["tz"], j["stamp"], j["interval"], j["format"]) == ("SUCCESS", "UTC", "close", "1m",
                                                                                 "nt8-minute")
    assert (j["rows_read"], j["rows_parsed"], j["rejected"]) == (two_days.height, two_days.height - 1, 1)
    assert j["rejects"] == [{"line": 6, "reason": "high < low; low above open/close", "text": j["rejects"][0]["text"]}]
    assert j["overlap"]["bars"] == 99 and j["overlap"]["match_rate"] == 1.0
    assert j["start"] == "2025-01-06T18:00:00-05:00" and j["end"] == "2025-01-08T16:59:00-05:00"
    assert j["outside_session"] == 0 and j["notes"] == ["interval inferred from the data: 1m"]
    top = j["zone_ranking"][0]
    assert {k: top[k] for k in ("tz", "stamp", "score", "in_session", "edge_fit", "match_rate")} == {
        "tz": "UTC", "stamp": "close", "score": 1.0, "in_session": 1.0, "edge_fit": 1.0, "match_rate": 1.0}
    assert top["decided"] is True


def test_a_file_scored_on_a_sample_still_counts_every_bar_outside_the_sessions():
    # more than 10 blocks of 20 000 rows: zones are ranked on a sample, the out-of-session count is exact
    bars = session_bars("CME Globex Equity", dt.date(2024, 1, 2), dt.date(2024, 7, 31))
    strays = make_bars(dt.datetime(2024, 4, 6, 15, 0, tzinfo=dt.UTC), 5)  # a Saturday
    bars = pl.concat([bars, strays]).sort("datetime")
    assert bars.height > 200_000
    rep = _verify(bars, "UTC", "close")
    assert rep.verdict == "SUCCESS" and rep.rows_parsed == bars.height
    assert rep.outside_session == 5


# ---------------------------------------------------------------- mutation survivors (issue 15 item 3)
def test_the_best_candidate_counts_its_closures_and_gaps(two_days):
    rep = _verify(two_days, "UTC", "close")
    best = rep.zone_ranking[0]
    # two sessions: the 17:00-18:00 ET halt between them is the one closure inside the span and the
    # file's one gap; it is empty and explained by the schedule
    assert (best.closures_tested, best.closures_matched) == (1, 1)
    assert (best.gaps, best.gaps_explained, best.gaps_inside) == (1, 1, 0)
    assert best.decided and rep.zone_decision == "decided"


def test_a_master_much_larger_than_the_file_is_narrowed_and_still_matches(two_days):
    # the master holds > 2x the bars of every candidate placement together: one semi-join keeps only
    # the minutes some candidate uses, and the match is unchanged
    small = two_days.slice(1500, 100)
    assert two_days.height > 2 * 10 * small.height
    rep = _verify(small, "UTC", "close", master=two_days)
    assert rep.verdict == "SUCCESS", rep.message
    best = rep.zone_ranking[0]
    assert (best.tz, best.stamp, best.match_rate) == ("UTC", "close", 1.0)
    assert rep.overlap.bars == 100 and rep.overlap.match_rate == 1.0


def test_a_price_level_refusal_is_a_fail_after_the_zone_is_confirmed(two_days):
    # the file's bars are at half the level of the stored bars just before them
    master = two_days.head(1000)
    half = two_days.slice(1000, 1000).with_columns(*(pl.col(c) / 2 for c in ("open", "high", "low", "close")))
    half = half.with_columns(*(pl.col(c).round(0) for c in ("open", "close")))
    half = half.with_columns(pl.max_horizontal("open", "close").alias("high"),
                             pl.min_horizontal("open", "close").alias("low"))
    rep = _verify(half, "UTC", "close", master=master)
    assert rep.price_refused
    assert rep.verdict == "FAIL" and rep.message.startswith("FAIL: price sanity: ")
    assert rep.to_json()["price_refused"] is True


def test_closures_are_counted_across_the_blocks_of_a_sampled_file():
    from datamgr.ingest.ninjatrader.verify import _Closed, calendar_evidence

    # two blocks, each spanning one daily halt (2025-01-07 and 2025-01-09, 22:00-23:00 UTC)
    blocks_t = [make_bars(dt.datetime(2025, 1, d, 21, 0, tzinfo=dt.UTC), 60)["datetime"].append(
        make_bars(dt.datetime(2025, 1, d, 23, 0, tzinfo=dt.UTC), 60)["datetime"]) for d in (7, 9)]
    t_ser = blocks_t[0].append(blocks_t[1])
    t = t_ser.to_numpy().astype("datetime64[us]").astype("int64")
    blocks = np.repeat([0, 1], 120)
    closed = _Closed.build(CME, t_ser.min(), t_ser.max())
    ev = calendar_evidence(t, np.arange(len(t)), blocks, np.ones(len(t), bool), closed)
    # the 2025-01-08 halt lies between the blocks: no block spans it, it is not tested
    assert (ev.tested, ev.matched, ev.exact_edges) == (2, 2, 4)
    assert (ev.gaps, ev.explained, ev.inside) == (2, 2, 0)
    one = calendar_evidence(t, np.arange(len(t)), np.zeros(len(t), np.int64), np.ones(len(t), bool), closed)
    # read as one block, the 2025-01-08 halt inside the long gap counts too (empty, no edge at it)
    assert (one.tested, one.matched, one.exact_edges) == (3, 3, 4)


def test_open_time_before_a_segment_start_is_every_earlier_segment():
    from datamgr.ingest.ninjatrader.verify import _Closed

    closed = _Closed.build(CME, dt.datetime(2025, 1, 7, tzinfo=dt.UTC), dt.datetime(2025, 1, 9, tzinfo=dt.UTC))
    k = len(closed.starts) // 2
    at = closed.open_before(closed.starts[k:k + 1])
    assert at[0] == closed.cum[k] == (closed.ends[:k] - closed.starts[:k]).sum()
    assert closed.open_before(closed.starts[k:k + 1] - 1)[0] == closed.cum[k]
    assert closed.open_before(closed.starts[k:k + 1] + 60_000_000)[0] == closed.cum[k] + 60_000_000
    assert closed.open_before(closed.starts[:1] - 1)[0] == 0
    assert closed.open_before(closed.starts[:1] + 60_000_000)[0] == 60_000_000  # inside the first segment


def test_calendar_fit_scores_one_block_with_or_without_a_mask(two_days):
    from datamgr.ingest.ninjatrader.verify import calendar_fit

    ins_share, edge, mask = calendar_fit(two_days, CME)
    assert (ins_share, edge, mask.len(), int(mask.sum())) == (1.0, 1.0, two_days.height, two_days.height)
    given = pl.Series([True] * (two_days.height - 10) + [False] * 10)
    assert calendar_fit(two_days, CME, given)[0] == pytest.approx(1 - 10 / two_days.height)
    late = two_days.with_columns(pl.col("datetime") + dt.timedelta(minutes=1))  # open stamps read as close
    assert calendar_fit(late, CME)[1] == pytest.approx(0.5)
    assert calendar_fit(two_days.clear(), CME)[:2] == (0.0, 0.0)


def test_another_contract_month_is_named_in_the_overlap(two_days):
    master = two_days.head(600)
    nxt = two_days.head(800).with_columns(*(pl.col(c) + 40.0 for c in ("open", "high", "low", "close")))
    parsed = parse_export(render_fast(nxt, "UTC"), "MES 03-25.Last.txt")
    rep, _ = verify_parsed(parsed, CME, tz="UTC", stamp="close", master=master, tick=TICK)
    assert rep.overlap.contract_offset == 40.0 and rep.overlap.contract == "MES 03-25"
    assert rep.contract == "MES 03-25" and rep.to_json()["contract"] == "MES 03-25"
    assert rep.verdict == "SUCCESS", rep.message
    assert any("another contract month (MES 03-25)" in n and "+40 points" in n for n in rep.notes)


def test_the_verify_log_line_names_file_zone_and_stamp(two_days, caplog):
    with caplog.at_level("INFO", logger="datamgr.ingest.ninjatrader.verify"):
        _verify(two_days.head(100), "UTC", "close")
    assert any(r.getMessage().startswith("verify x.txt tz=UTC stamp=close: ") for r in caplog.records)


def test_an_overlap_decision_names_every_candidate_with_at_least_half_the_best_shape():
    from datamgr.ingest.ninjatrader.verify import ZoneScore, zone_reason

    ranking = [ZoneScore("UTC", "close", 1.0, 1.0, 1.0, 1.0, shape=1.0),
               ZoneScore("Europe/London", "close", 0.9, 1.0, 1.0, 1.0, shape=0.5),
               ZoneScore("America/Chicago", "close", 0.8, 1.0, 1.0, 1.0, shape=0.4375)]
    reason = zone_reason(ranking, {}, by_overlap=True)
    assert reason == ("the overlap with the master moves bar by bar with the file (shape 1.000) only in "
                      "UTC (close stamps); also Europe/London (close stamps)")
    assert zone_reason(ranking[:1], {}, by_overlap=True).endswith("only in UTC (close stamps)")


def test_the_shift_of_a_large_file_is_searched_on_a_sample_of_20000_bars():
    # more than 20 000 bars; the master (shifted by 3 minutes) covers only the first 1 000 of them:
    # the sample of 20 000 holds most of those and finds the shift
    bars = session_bars("CME Globex Equity", dt.date(2025, 1, 6), dt.date(2025, 1, 24))
    assert bars.height > 20_000
    master = bars.head(1000).with_columns(pl.col("datetime") + dt.timedelta(minutes=3))
    ov = overlap_stats(bars, master, TICK)
    assert ov.bars == 1000 and ov.match_rate < MATCH_OK
    assert ov.best_shift_minutes == 3
