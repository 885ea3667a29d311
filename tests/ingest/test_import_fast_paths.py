"""The import's fast paths give the answers of the straightforward formulation, on the real exports
and on windows cut from them (DST changes included).

Each fast path (issue 13) is compared with the plain way of computing the same thing, written out
here: localising wall-clock stamps through a join on the distinct local hours and row by row with
the zone database, every reject rule evaluated over every row, the 99.9th volume percentile by
``quantile``, the price steps over the whole array at once, the in-session mask through
``label``. Equal means equal: bars, line numbers, reject lines and reasons, messages.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.core.schema import conform, value_rules, volume_cap
from datamgr.ingest import sanity
from datamgr.ingest.ninjatrader import place
from datamgr.ingest.ninjatrader.parse import _PRICES, Reject, parse_export
from datamgr.ingest.ninjatrader.verify import CANDIDATE_ZONES
from tests.conftest import real_file
from tests.ingest.real_windows import MES, lines, render

REAL = (MES, "nt-spy-minute-2011.csv", "nt-spy-minute-2011-03.csv")
ZONES = (*CANDIDATE_ZONES, "Europe/London", "Australia/Sydney", "Asia/Kolkata")
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: DST changes (UTC instants) the windows are moved onto: spring forward and fall back
DST = {
    "America/New_York": (dt.datetime(2025, 3, 9, 7), dt.datetime(2025, 11, 2, 6)),
    "America/Chicago": (dt.datetime(2011, 3, 13, 8), dt.datetime(2011, 11, 6, 7)),
    "America/Los_Angeles": (dt.datetime(2024, 3, 10, 10), dt.datetime(2024, 11, 3, 9)),
    "Europe/London": (dt.datetime(2025, 3, 30, 1), dt.datetime(2025, 10, 26, 1)),
    "Australia/Sydney": (dt.datetime(2025, 10, 4, 16), dt.datetime(2025, 4, 5, 16)),
}


# ----------------------------------------------------------------------------- straightforward
def rowwise_localize(stamps: pl.Series, tz: str) -> pl.Series:
    """Every stamp through the zone database on its own (a repeated stamp is the later instant):
    the reference for the hour table and for the hour join it falls back to."""
    second = (stamps <= stamps.cum_max().shift(1)).fill_null(False)
    return pl.DataFrame({"t": stamps, "second": second}).select(
        pl.when(pl.col("second"))
        .then(pl.col("t").dt.replace_time_zone(tz, ambiguous="latest", non_existent="null"))
        .otherwise(pl.col("t").dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null"))
    ).to_series().dt.convert_time_zone("UTC")


def plain_finish(parsed, bars: pl.DataFrame, lines_: pl.Series, minutes: int) -> place.Placed:
    """Every rule over every row, reasons for the rejected rows, the rest conformed."""
    b = bars.with_columns(pl.lit(parsed.source).alias("source"), lines_.alias("line"))
    b = b.with_columns(pl.col("datetime").cast(pl.Datetime("us", "UTC")))
    cap = b["volume"].cast(pl.Float64).quantile(0.999, interpolation="higher")
    reasons = place.reject_rules(minutes, NOW, 100 * cap if cap and cap > 0 else None)
    flags = b.with_columns([e.fill_null(False).alias(f"_r{i}") for i, (_, e) in enumerate(reasons)])
    anyr = flags.select(pl.any_horizontal([pl.col(f"_r{i}") for i in range(len(reasons))])).to_series()
    texts = parsed.texts(flags.filter(anyr)["line"].to_list())
    rejects = [Reject(int(r["line"]), "; ".join(n for i, (n, _) in enumerate(reasons) if r[f"_r{i}"]),
                      texts.get(int(r["line"]), "")) for r in flags.filter(anyr).iter_rows(named=True)]
    good = b.filter(~anyr).with_columns(pl.col("datetime").set_sorted())
    return place.Placed(conform(good), good["line"], rejects, minutes, False)


def plain_check_within(bars: pl.DataFrame, *, timeframe: str, tick: float, what: str = "the file"):
    """The price steps of :func:`sanity.check_within` over the whole arrays at once."""
    if bars.height < 2:
        return sanity.PriceCheck()
    mr = sanity._median_range(bars, tick)
    bound = sanity._bound(mr, timeframe, tick)
    close = bars["close"].to_numpy()
    prev, nxt_open = close[:-1], bars["open"].to_numpy()[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = close[1:] / prev
    bad = np.flatnonzero((ratio < sanity.RATIO_LO) | (ratio > sanity.RATIO_HI))
    t = bars["datetime"]
    if len(bad):
        k = int(bad[0])
        msg = (f"prices within {what} change level: close {sanity._fmt(prev[k])} at {t[k]:%Y-%m-%d %H:%M} UTC "
               f"then {sanity._fmt(close[k + 1])} at {t[k + 1]:%Y-%m-%d %H:%M} UTC (ratio {ratio[k]:.3f}, "
               f"outside {sanity.RATIO_LO}-{sanity.RATIO_HI}); {len(bad)} such step(s)")
        return sanity.PriceCheck(False, msg, ratio=float(ratio[k]), median_range=mr, bound=bound)
    if timeframe == "1m":
        jump = np.abs(nxt_open - prev)
        cand = np.flatnonzero(jump > bound)
        if len(cand):
            us = t.to_numpy().astype("datetime64[us]").astype("int64")
            cand = cand[(us[cand + 1] - us[cand]) / 60e6 <= 15]
        if len(cand):
            k = int(cand[0])
            minutes = int((t[k + 1] - t[k]).total_seconds() // 60)
            msg = (f"prices within {what} jump {sanity._fmt(jump[k])} points from close {sanity._fmt(prev[k])} at "
                   f"{t[k]:%Y-%m-%d %H:%M} UTC to open {sanity._fmt(nxt_open[k])} {minutes} min later "
                   f"(bound {sanity._fmt(bound)} = {sanity.K_1M:g} x median 1m range {sanity._fmt(mr)}); "
                   f"{len(cand)} such jump(s)")
            return sanity.PriceCheck(False, msg, jump=float(jump[k]), bound=bound, median_range=mr)
    return sanity.PriceCheck(median_range=mr, bound=bound)


# ----------------------------------------------------------------------------- data
def _parsed(name: str):
    return parse_export(real_file(name).read_bytes(), name)


def _dst_window(tz: str, instant: dt.datetime, hours: int = 36) -> bytes:
    """MES bars (stamped in UTC, nearly round the clock) moved by whole days so that their first
    Tuesday covers ``instant``, then written as the wall clock of ``tz``, as NinjaTrader would:
    a fall-back hour appears twice, a spring-forward hour not at all."""
    rows = lines(real_file(MES))
    t0 = dt.datetime(2025, 6, 17)  # a Tuesday in the file: bars all day except the 1-hour halt
    days = (instant.date() - t0.date()).days
    out = []
    for ln in rows:
        f = ln.split(";")
        t = dt.datetime.strptime(f[0], "%Y%m%d %H%M%S")
        if t0 <= t < t0 + dt.timedelta(hours=hours):
            local = (t + dt.timedelta(days=days)).replace(tzinfo=dt.UTC).astimezone(_zone(tz))
            out.append(";".join([local.strftime("%Y%m%d %H%M%S"), *f[1:]]))
    return render(out)


def _zone(tz: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


# ----------------------------------------------------------------------------- localize
@pytest.mark.parametrize("name", REAL)
def test_localize_by_hour_table_equals_the_join_and_the_row_by_row_answer_on_real_exports(name):
    stamps = _parsed(name).rows["stamp"]
    for tz in ZONES:
        got = place.localize(stamps, tz)
        assert got.equals(rowwise_localize(stamps, tz)), tz


@pytest.mark.parametrize("tz", sorted(DST))
def test_localize_equals_the_plain_answers_across_real_dst_changes(tz):
    for instant in DST[tz]:
        data = _dst_window(tz, instant)
        stamps = parse_export(data, "window.txt").rows["stamp"]
        got = place.localize(stamps, tz)
        assert got.null_count() == 0
        at = instant.replace(tzinfo=dt.UTC)  # the window holds bars all through the change
        assert got.filter(got.is_between(at - dt.timedelta(hours=1), at + dt.timedelta(hours=1))).len() >= 100
        assert got.equals(rowwise_localize(stamps, tz))
        # the wall clock written from UTC comes back to the same instants, repeated hour included
        assert got.diff().drop_nulls().min() > dt.timedelta(0)


def test_a_fall_back_window_holds_the_repeated_hour_and_places_it_in_order():
    tz, instant = "America/New_York", DST["America/New_York"][1]
    stamps = parse_export(_dst_window(tz, instant), "w.txt").rows["stamp"]
    repeated = stamps.filter(stamps.is_duplicated())
    assert repeated.len() >= 50 and (repeated.dt.hour() == 1).all()
    assert place.localize(stamps, tz).equals(rowwise_localize(stamps, tz))


def test_a_stamp_inside_the_spring_forward_gap_is_null_in_both_and_refused_naming_its_line():
    tz, instant = "America/New_York", DST["America/New_York"][0]
    rows = _dst_window(tz, instant).decode().splitlines()
    i = next(k for k, ln in enumerate(rows) if ln.startswith("20250309 03"))
    rows.insert(i, rows[i].replace("20250309 03", "20250309 02", 1))  # 02:xx does not exist that day
    parsed = parse_export("\r\n".join(rows).encode(), "gap.txt")
    got = place.localize(parsed.rows["stamp"], tz)
    assert got.is_null().arg_true().to_list() == [i]
    assert got.equals(rowwise_localize(parsed.rows["stamp"], tz))
    with pytest.raises(Exception, match=rf"gap.txt: 1 time\(s\) that do not exist in {tz}.*line {i + 1} "):
        place.to_bars(parsed, tz)


def test_localize_takes_the_join_when_the_stamps_span_more_hours_than_the_table_holds():
    stamps = pl.Series([dt.datetime(1800, 1, 1, 10), dt.datetime(2100, 7, 1, 10)], dtype=pl.Datetime("us"))
    assert place._by_hour_grid(stamps, "America/New_York") is None
    assert place.localize(stamps, "America/New_York").equals(rowwise_localize(stamps, "America/New_York"))


# ----------------------------------------------------------------------------- finish / rules
def _bars(parsed, tz: str, stamp: str = "close") -> tuple[pl.DataFrame, pl.Series, int]:
    utc = place.localize(parsed.rows["stamp"], tz)
    minutes = place.infer_interval(utc)
    shift = dt.timedelta(minutes=minutes if stamp == "close" else 0)
    return parsed.rows.select((utc - shift).alias("datetime"), *_PRICES, "volume"), parsed.rows["line"], minutes


def _same(a: place.Placed, b: place.Placed) -> None:
    assert a.bars.equals(b.bars)
    assert a.lines.equals(b.lines)
    assert a.rejects == b.rejects


def _finish(parsed, bars, lines_, minutes):
    return place._finish(parsed, bars, lines_, [], minutes, False, NOW)


@pytest.mark.parametrize("name", REAL)
def test_finish_equals_every_rule_over_every_row_on_real_exports(name):
    parsed = _parsed(name)
    for tz in CANDIDATE_ZONES:
        for stamp in ("close", "open"):
            bars, ln, minutes = _bars(parsed, tz, stamp)
            want = plain_finish(parsed, bars, ln, minutes)
            _same(_finish(parsed, bars, ln, minutes), want)
            b = bars.with_columns(pl.col("datetime").cast(pl.Datetime("us", "UTC")))
            rules = value_rules(minutes=minutes, now=NOW, cap=volume_cap(b["volume"]))
            assert place._surely_clean(b, rules) == (not want.rejects)  # the quick proof is taken


BREAKS = {
    "nan price": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(float("nan"))
                                             .otherwise(pl.col("open")).alias("open")),
    "nan high": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(float("nan"))
                                            .otherwise(pl.col("high")).alias("high")),
    "nan everywhere": lambda d, i: d.with_columns(*(pl.when(pl.int_range(pl.len()) == i).then(float("nan"))
                                                    .otherwise(pl.col(c)).alias(c) for c in _PRICES)),
    "inf high": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(float("inf"))
                                            .otherwise(pl.col("high")).alias("high")),
    "-inf low": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(float("-inf"))
                                            .otherwise(pl.col("low")).alias("low")),
    "zero low": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(0.0)
                                            .otherwise(pl.col("low")).alias("low")),
    "negative zero low": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(-0.0)
                                                     .otherwise(pl.col("low")).alias("low")),
    "high below low": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(pl.col("low") - 1)
                                                  .otherwise(pl.col("high")).alias("high")),
    "open above high": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(pl.col("high") + 1)
                                                   .otherwise(pl.col("open")).alias("open")),
    "close below low": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(pl.col("low") - 1)
                                                   .otherwise(pl.col("close")).alias("close")),
    "negative volume": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(-1)
                                                   .otherwise(pl.col("volume")).alias("volume")),
    "volume outlier": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(10**9)
                                                  .otherwise(pl.col("volume")).alias("volume")),
    "volume beyond int32": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(2**31)
                                                       .otherwise(pl.col("volume")).alias("volume")),
    "duplicate stamp": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i)
                                                   .then(pl.col("datetime").shift(1))
                                                   .otherwise(pl.col("datetime")).alias("datetime")),
    "out of order": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i)
                                                .then(pl.col("datetime") - dt.timedelta(days=1))
                                                .otherwise(pl.col("datetime")).alias("datetime")),
    "off the minute": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i)
                                                  .then(pl.col("datetime") + dt.timedelta(seconds=30))
                                                  .otherwise(pl.col("datetime")).alias("datetime")),
    "before 1970": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == 0)
                                               .then(pl.lit(dt.datetime(1969, 12, 31, 23, 59), pl.Datetime("us", "UTC")))
                                               .otherwise(pl.col("datetime")).alias("datetime")),
    "in the future": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == pl.len() - 1)
                                                 .then(pl.lit(dt.datetime(2030, 1, 1), pl.Datetime("us", "UTC")))
                                                 .otherwise(pl.col("datetime")).alias("datetime")),
    "null price": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(None)
                                              .otherwise(pl.col("open")).alias("open")),
    "null stamp": lambda d, i: d.with_columns(pl.when(pl.int_range(pl.len()) == i).then(None)
                                              .otherwise(pl.col("datetime")).alias("datetime")),
    "null price, inf high": lambda d, i: d.with_columns(
        pl.when(pl.int_range(pl.len()) == i).then(None).otherwise(pl.col("open")).alias("open"),
        pl.when(pl.int_range(pl.len()) == i).then(float("inf")).otherwise(pl.col("high")).alias("high")),
}


@pytest.mark.parametrize("what", sorted(BREAKS))
def test_finish_equals_every_rule_over_every_row_with_broken_rows_in_a_real_window(what):
    parsed = _parsed(MES)
    bars, ln, minutes = _bars(parsed, "UTC")
    for i in (1, 777, bars.height - 2):
        broken = BREAKS[what](bars, i)
        got, want = _finish(parsed, broken, ln, minutes), plain_finish(parsed, broken, ln, minutes)
        _same(got, want)
        if what not in ("null price", "null stamp"):
            assert got.rejects, what  # the break is found, not waved through


def test_volume_cap_equals_the_quantile_on_real_and_random_volumes():
    def plain(v: pl.Series):
        p = v.cast(pl.Float64).quantile(0.999, interpolation="higher")
        return 100 * p if p and p > 0 else None

    for name in REAL:
        v = _parsed(name).rows["volume"]
        for k in (1, 2, 3, 999, 1000, 1001, 5000, v.len()):
            assert volume_cap(v.head(k)) == plain(v.head(k))
    rng = np.random.default_rng(7)
    for n in (*range(1, 400), 4_999, 100_003):
        v = pl.Series(rng.integers(0, 4 if n % 2 else 10**7, n))
        assert volume_cap(v) == plain(v), n
    with_null = pl.Series([5, None, 7, 9])
    assert volume_cap(with_null) == plain(with_null)


# ----------------------------------------------------------------------------- price steps
def _long_mes() -> pl.DataFrame:
    """The MES bars three times over (one contract quarter later each): > 2 chunks of price steps."""
    bars = place.to_bars(_parsed(MES), "UTC", now=NOW).bars
    span = bars["datetime"].max() - bars["datetime"].min() + dt.timedelta(days=7)
    return pl.concat([bars.with_columns(pl.col("datetime") + k * span) for k in range(3)])


def _set(df: pl.DataFrame, i: int, **vals) -> pl.DataFrame:
    return df.with_columns(*(pl.when(pl.int_range(pl.len()) == i).then(v).otherwise(pl.col(c)).alias(c)
                             for c, v in vals.items()))


def test_price_steps_in_chunks_equal_the_whole_array_at_once():
    bars = _long_mes()
    n = bars.height
    assert n > 2 * sanity._CHUNK + 10
    cases = [bars]
    for i in (1, sanity._CHUNK - 1, sanity._CHUNK, sanity._CHUNK + 1, 2 * sanity._CHUNK, n - 2):
        c = float(bars["close"][i])
        cases.append(_set(bars, i + 1, open=c + 500.0, high=c + 500.0))  # a jump from close i
        cases.append(_set(bars, i + 1, close=c * 3, high=c * 3))  # a level change
        cases.append(_set(bars, i, close=0.0))  # a division by zero
        cases.append(_set(bars, i, close=float("nan")))
    for b in cases:
        for tf in ("1m", "1d"):
            assert sanity.check_within(b, timeframe=tf, tick=0.25, what="x") == \
                plain_check_within(b, timeframe=tf, tick=0.25, what="x")
    refused = [sanity.check_within(b, timeframe="1m", tick=0.25) for b in cases[1:]]
    assert sum(not r.ok for r in refused) >= 12


@pytest.mark.parametrize("name", REAL)
def test_price_steps_equal_on_real_exports(name):
    bars = place.to_bars(_parsed(name), "UTC", now=NOW).bars
    for tf in ("1m", "1d"):
        assert sanity.check_within(bars, timeframe=tf, tick=0.01, what=name) == \
            plain_check_within(bars, timeframe=tf, tick=0.01, what=name)


# ----------------------------------------------------------------------------- calendar
@pytest.mark.parametrize("name", REAL)
def test_in_session_mask_equals_labels_for_every_candidate_placement(name):
    parsed = _parsed(name)
    cal = get_calendar("CME Globex Equity")
    every = []
    for tz in CANDIDATE_ZONES:
        for stamp in ("close", "open"):
            t = place.to_bars(parsed, tz, stamp=stamp, now=NOW).bars["datetime"]
            every.append(t)
            assert (cal.in_session(t) == cal.label(t)["in_session"].to_numpy()).all()
    allt = pl.concat(every)  # not sorted: the zone ranking asks for all candidates at once
    assert (cal.in_session(allt) == cal.label(allt)["in_session"].to_numpy()).all()
    assert len(cal.in_session(allt.head(0))) == 0


# ----------------------------------------------------------------------------- parse
def test_a_file_newest_first_is_turned_and_one_backward_first_step_is_not():
    rows = lines(real_file("nt-spy-minute-2011-03.csv"))[:500]
    forward = parse_export(render(rows), "f.txt")
    backward = parse_export(render(rows[::-1]), "b.txt")
    assert backward.notes == ["rows were newest first; read oldest first"]
    assert backward.rows.select("stamp", *_PRICES, "volume").equals(forward.rows.select("stamp", *_PRICES, "volume"))
    swapped = parse_export(render([rows[1], rows[0], *rows[2:]]), "s.txt")
    assert swapped.notes == [] and swapped.rows["line"].to_list()[:2] == [1, 2]


@pytest.mark.parametrize("what", ["duplicate stamp", "out of order", "off the minute", "nan high"])
def test_finish_equals_every_rule_over_every_row_with_breaks_at_chunk_edges(what):
    parsed = _parsed(MES)
    long = _long_mes().select("datetime", *_PRICES, "volume")
    ln = pl.Series("line", range(1, long.height + 1), dtype=pl.Int64)
    assert long.height > 2 * place._CHUNK + 10
    for i in (place._CHUNK - 1, place._CHUNK, place._CHUNK + 1, 2 * place._CHUNK):
        broken = BREAKS[what](long, i)
        got, want = _finish(parsed, broken, ln, 1), plain_finish(parsed, broken, ln, 1)
        _same(got, want)
        assert [r.line for r in got.rejects] == [i + 1]


def test_localize_reads_a_column_of_many_chunks_with_missing_and_repeated_hours_in_several():
    tz = "America/New_York"
    spring = parse_export(_dst_window(tz, DST[tz][0]), "s.txt").rows["stamp"]
    fall = parse_export(_dst_window(tz, DST[tz][1]), "f.txt").rows["stamp"]
    gap = pl.Series([dt.datetime(2025, 3, 9, 2, 30)], dtype=pl.Datetime("us"))
    parts = [fall.head(700), gap, fall.slice(700, 600), gap, fall.slice(1300), spring]
    stamps = pl.concat(parts, rechunk=False)
    assert stamps.n_chunks() >= len(parts)
    got = place.localize(stamps, tz)
    assert got.null_count() == 2
    assert got.equals(rowwise_localize(stamps.rechunk(), tz))


def test_price_steps_read_across_the_chunks_of_a_column_as_over_one_array():
    bars = _long_mes()
    cuts = (0, 1000, 71_000, 150_000, bars.height)
    for i in (999, 1000, 70_999):
        c = float(bars["close"][i])
        for broken in (_set(bars, i + 1, open=c + 500.0, high=c + 500.0), _set(bars, i + 1, close=c * 3, high=c * 3),
                       _set(bars, i, close=0.0)):
            pieces = pl.concat([broken.slice(a, b - a) for a, b in zip(cuts, cuts[1:])], rechunk=False)
            assert pieces["close"].n_chunks() >= 4
            odd = pieces.with_columns(pl.Series("open", broken["open"].to_numpy()))  # chunked unlike close
            want = plain_check_within(broken, timeframe="1m", tick=0.25)
            assert not want.ok
            for frame in (pieces, odd):
                assert sanity.check_within(frame, timeframe="1m", tick=0.25) == want


# ----------------------------------------------------------------------------- session cache
def _run(code: str) -> str:
    """``code`` in a fresh interpreter (its own session memory) from the repository root."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False,
                         env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def _warm(folder) -> list[str]:
    """The folder's session cache written as a reader (``status``) writes it; the files."""
    _run("import datetime as dt\nfrom datamgr.calendar.sessions import get_calendar\n"
         f"get_calendar('CME Globex Equity', data_dir={str(folder)!r}).segments(dt.date(2025, 6, 1), dt.date(2025, 6, 2))")
    return sorted(p.name for p in folder.rglob("*.parquet"))


def test_verify_reads_a_warm_session_cache_gives_the_same_report_and_never_writes_one(tmp_path):
    from datamgr.core.config import Settings
    from datamgr.ingest.draft import ImportDraft
    from datamgr.ingest.ninjatrader.verify import verify_parsed

    data = real_file(MES).read_bytes()
    cold = Settings.load(data_dir=tmp_path / "cold", env={})
    (tmp_path / "cold").mkdir()
    rep = ImportDraft(cold, data, MES).verify("MES1", "UTC", "close")
    assert not list((tmp_path / "cold").rglob("*"))  # a verify writes nothing, not even the cache
    parsed = parse_export(data, MES)
    plain, _ = verify_parsed(parsed, get_calendar("CME Globex Equity"), tz="UTC", stamp="close", tick=0.25)
    assert rep.to_json() == plain.to_json()
    warm = Settings.load(data_dir=tmp_path / "warm", env={})
    files = _warm(tmp_path / "warm")
    assert len(files) == 1
    for tz, stamp in (("UTC", "close"), ("America/New_York", "open")):
        got = ImportDraft(warm, data, MES).verify("MES1", tz, stamp)
        want, _ = verify_parsed(parsed, get_calendar("CME Globex Equity"), tz=tz, stamp=stamp, tick=0.25,
                                zone_origin="given")
        assert got.to_json() == want.to_json()
    assert sorted(p.name for p in (tmp_path / "warm").rglob("*.parquet")) == files


def test_a_verify_served_by_a_warm_session_cache_does_not_import_pandas_market_calendars(tmp_path):
    assert len(_warm(tmp_path / "warm")) == 1
    out = _run(
        "import sys\n"
        "from datamgr.core.config import Settings\n"
        "from datamgr.ingest.draft import ImportDraft\n"
        f"s = Settings.load(data_dir={str(tmp_path / 'warm')!r}, env={{}})\n"
        f"data = open({str(real_file(MES))!r}, 'rb').read()\n"
        "rep = ImportDraft(s, data, 'MES 09-25.Last.txt').verify('MES1', 'UTC', 'close')\n"
        "print(rep.verdict, 'pandas_market_calendars' in sys.modules)\n")
    assert out.split() == ["SUCCESS", "False"]


def test_a_calendar_built_for_a_verify_is_still_written_by_the_next_reader_of_the_folder(tmp_path):
    out = _run(
        "import datetime as dt\n"
        "from datamgr.calendar.sessions import get_calendar\n"
        f"d = {str(tmp_path)!r}\n"
        "a, b = dt.date(2025, 6, 1), dt.date(2025, 6, 9)\n"
        "quiet = get_calendar('CME Globex Equity', data_dir=d, write_cache=False).segments(a, b)\n"
        "import pathlib\n"
        "print(len(list(pathlib.Path(d).rglob('*.parquet'))))\n"
        "loud = get_calendar('CME Globex Equity', data_dir=d).segments(a, b)\n"
        "print(len(list(pathlib.Path(d).rglob('*.parquet'))), quiet.equals(loud))\n"
        "print(quiet.equals(get_calendar('CME Globex Equity').segments(a, b)))\n")
    assert out.split() == ["0", "1", "True", "True"]


# ----------------------------------------------------------------------------- median range
def _plain_median_range(bars: pl.DataFrame, tick: float) -> float:
    if bars.height == 0:
        return 4 * tick
    return max(float((bars["high"] - bars["low"]).median() or 0.0), tick)


@pytest.mark.parametrize("name", REAL)
def test_median_range_counted_per_tick_equals_the_median_on_real_exports(name):
    bars = place.to_bars(_parsed(name), "UTC", now=NOW).bars
    for tick in (0.25, 0.01, 0.125, 0.5, 1.0, 0.1):
        for b in (bars, bars.head(1), bars.head(2), bars.head(101), pl.concat([bars, bars.head(7)], rechunk=False)):
            assert sanity._median_range(b, tick) == _plain_median_range(b, tick), (tick, b.height)


def test_median_range_counted_per_tick_equals_the_median_on_grids_and_off_them():
    rng = np.random.default_rng(3)
    tick = 0.25
    for n in (1, 2, 3, 4, 5, 10, 11, 1000, 1001, 70_001):
        for spread in (1, 3, 40):
            low = 4000 + rng.integers(0, 400, n) * tick
            for high in (low + rng.integers(0, spread, n) * tick,  # on the grid
                         low + rng.integers(0, spread, n) * tick + (rng.random(n) < 0.01) * 0.1,  # some off it
                         low - rng.integers(0, spread, n) * tick):  # negative ranges
                b = pl.DataFrame({"high": high, "low": low})
                assert sanity._median_range(b, tick) == _plain_median_range(b, tick), (n, spread)
    two = pl.DataFrame({"high": [10.0, 11.0], "low": [10.0, 10.0]})  # middle ranges differ: polars decides
    assert sanity._median_range(two, 0.25) == _plain_median_range(two, 0.25) == 0.5
    for bad in (float("nan"), float("inf"), None, 1e9):
        b = pl.DataFrame({"high": [10.0, 11.0, 10.5, bad], "low": [10.0, 10.0, 10.0, 10.0]})
        assert sanity._median_range(b, 0.25) == _plain_median_range(b, 0.25), bad
