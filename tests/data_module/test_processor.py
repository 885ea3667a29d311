"""DataProcessor: calendar market hours, session-anchored resampling with partial buckets, TTL cache
(memory + disk, survives a restart), validation naming the problem."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError
from datamgr.data_module.processor import DataProcessor


class Tick:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def minutes(day: str, start: str, n: int, tz: str | None = "Asia/Kolkata") -> pd.DataFrame:
    t = pd.date_range(f"{day} {start}", periods=n, freq="1min", tz=tz)
    close = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"timestamp": t, "open": close - 0.5, "high": close + 1, "low": close - 1, "close": close,
                         "volume": np.full(n, 10)})


@pytest.fixture
def proc(settings) -> DataProcessor:
    return DataProcessor(settings, clock=Tick())


def test_market_hours_come_from_the_nse_calendar(proc):
    assert (proc.MARKET_OPEN, proc.MARKET_CLOSE) == ("09:15", "15:30")
    day = minutes("2024-01-15", "09:00", 420)  # 09:00 .. 15:59
    kept = proc.filter_market_hours(day)
    assert kept["timestamp"].min().strftime("%H:%M") == "09:15" and kept["timestamp"].max().strftime("%H:%M") == "15:30"
    holiday = minutes("2024-01-26", "09:15", 10)  # Republic Day: NSE closed
    assert proc.filter_market_hours(holiday).empty


def test_naive_timestamps_mean_the_instruments_zone_and_stay_naive(proc):
    df = minutes("2024-01-15", "09:15", 375, tz=None)
    out = proc.resample_data(df, "1H")
    assert out["timestamp"].dt.tz is None
    assert out["timestamp"].dt.strftime("%H:%M").tolist() == ["09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"]


@pytest.mark.parametrize(("tf", "n", "last", "last_bars"), [
    ("3min", 125, "15:27", 3), ("5min", 75, "15:25", 5), ("10min", 38, "15:25", 5), ("15min", 25, "15:15", 15),
    ("30min", 13, "15:15", 15), ("1H", 7, "15:15", 15)])
def test_resampling_anchors_at_the_open_and_keeps_the_partial_bucket(proc, tf, n, last, last_bars):
    df = minutes("2024-01-15", "09:15", 375)
    out = proc.resample_data(df, tf)
    assert len(out) == n and out["timestamp"].iloc[0].strftime("%H:%M") == "09:15"
    assert out["timestamp"].iloc[-1].strftime("%H:%M") == last
    assert out["volume"].iloc[-1] == 10 * last_bars and out["volume"].sum() == 3750
    first = df.iloc[: {"3min": 3, "5min": 5, "10min": 10, "15min": 15, "30min": 30, "1H": 60}[tf]]
    row = out.iloc[0]
    assert (row["open"], row["high"], row["low"], row["close"]) == (
        first["open"].iloc[0], first["high"].max(), first["low"].min(), first["close"].iloc[-1])


def test_buckets_never_span_two_sessions_and_outside_candles_are_left_out(proc):
    df = pd.concat([minutes("2024-01-15", "15:00", 40), minutes("2024-01-16", "09:15", 30)], ignore_index=True)
    out = proc.resample_data(df, "1H")
    assert out["timestamp"].dt.strftime("%d %H:%M").tolist() == ["15 14:15", "15 15:15", "16 09:15"]
    assert out["volume"].tolist() == [150, 160, 300]  # 15:00-15:14, 15:15-15:30 (16 candles), 09:15-09:44


def test_a_cme_frame_uses_the_cme_calendar(settings):
    proc = DataProcessor(settings)
    df = minutes("2025-03-04", "17:00", 120, tz="America/Chicago")  # ES session opens 17:00 CT
    df.attrs["symbol"] = "ES1"
    out = proc.resample_data(df, "1H")
    assert out["timestamp"].dt.strftime("%H:%M").tolist() == ["17:00", "18:00"]


def test_unknown_interval_is_refused_naming_it(proc):
    with pytest.raises(ConfigError, match="target_interval '7min' not supported"):
        proc.resample_data(minutes("2024-01-15", "09:15", 10), "7min")


def test_validation_names_each_problem(proc, caplog):
    df = minutes("2024-01-15", "09:15", 10)
    assert proc.validate_candle_data(df) is True
    bad = df.copy()
    bad.loc[3, "high"] = 1.0
    bad.loc[5, "timestamp"] = bad.loc[4, "timestamp"]
    assert proc.validate_candle_data(bad) is False
    assert "high < max(open, close): 1 row(s), rows 3" in caplog.text and "duplicate timestamp: 1 row(s), rows 5" in caplog.text
    assert proc.validate_candle_data(None) is False and proc.validate_candle_data(df.drop(columns="close")) is False
    clean = proc.clean_candle_data(pd.concat([df.iloc[5:], df.iloc[:6]]))
    assert clean["timestamp"].is_monotonic_increasing and len(clean) == 10


def test_cache_expires_after_its_ttl_and_survives_a_restart(settings):
    tick = Tick()
    a = DataProcessor(settings, clock=tick)
    df = minutes("2024-01-15", "09:15", 5)
    assert a.cache_data("nifty_data", df, ttl_seconds=300) and a.cache_data("cfg", {"k": [1, 2]}, ttl_seconds=10)
    b = DataProcessor(settings, clock=tick)  # a new process: reads data/cache/
    pd.testing.assert_frame_equal(b.get_cached_data("nifty_data"), df)
    assert b.get_cached_data("cfg") == {"k": [1, 2]}
    tick.t += 11
    assert b.get_cached_data("cfg") is None and b.get_cached_data("nifty_data") is not None
    tick.t += 300
    assert DataProcessor(settings, clock=tick).get_cached_data("nifty_data") is None
    assert not list((settings.data_dir / "cache").iterdir())  # expired entries are removed


def test_a_tampered_cache_file_reads_as_a_miss_and_clear_cache_forgets(settings):
    tick = Tick()
    a = DataProcessor(settings, clock=tick)
    a.cache_data("x", [1, 2, 3])
    data = next((settings.data_dir / "cache").glob("*.data"))
    data.write_bytes(b"[9, 9]")
    assert DataProcessor(settings, clock=tick).get_cached_data("x") is None
    a.cache_data("y", 1)
    a.clear_cache()
    assert a.get_cached_data("y") is None and not list((settings.data_dir / "cache").iterdir())
    assert a.cache_data("obj", object()) and a.get_cached_data("obj") is not None  # memory only


def test_settings_from_a_config_can_add_an_nse_instrument(tmp_path):
    cfg = tmp_path / "datamgr.toml"
    cfg.write_text('[instruments.RELIANCE]\ncalendar = "XNSE"\nexchange = "NSE"\ntoken = "2885"\n'
                   'display_tz = "Asia/Kolkata"\nsource = "smartapi"\n', encoding="utf-8")
    s = Settings.load(config=cfg, env={})
    ins = s.instrument("RELIANCE")
    assert (ins.token, ins.exchange, s.display_tz_for("RELIANCE"), s.display_tz_for("ES1")) == (
        "2885", "NSE", "Asia/Kolkata", "America/New_York")
    proc = DataProcessor(s)
    df = minutes("2024-01-15", "09:15", 30)
    df.attrs["symbol"] = "RELIANCE"
    assert len(proc.resample_data(df, "15min")) == 2
    assert dt.date(2024, 1, 15) == proc.resample_data(df, "1D")["timestamp"].iloc[0].date()
