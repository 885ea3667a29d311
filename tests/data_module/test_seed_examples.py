"""The document's own examples, unchanged but for their import lines, against the loopback SmartAPI
server (REST login + getCandleData), the replay source and the loopback SmartAPI WebSocket."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import datamgr.data_module as dm
from datamgr.ingest.smartapi import SmartApiHistory
from datamgr.store import journal
from tests.conftest import require
from tests.data_module.seed_examples import DOC, block, blocks, run
from tests.data_module.smartapi_rest import API_KEY, CLIENT, JWT, PIN, TOKENS, TOTP_SECRET, candles
from tests.live.smartapi_server import SmartStream

IST = ZoneInfo("Asia/Kolkata")
TIMEFRAMES = ["THREE_MINUTE", "FIVE_MINUTE", "TEN_MINUTE", "FIFTEEN_MINUTE", "THIRTY_MINUTE", "ONE_HOUR"]


def at(day: int, h: int, m: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, h, m, tzinfo=IST)


def imports() -> dict:
    """A namespace after the document's import line (for blocks that continue an earlier one)."""
    return run("from modules.data_module import get_live_feed, get_historical_manager, get_data_processor\n")


def test_the_vendored_document_is_the_seed():
    seeds = sorted(Path("/work/shared/seeds").glob("003_*.txt")) + sorted(
        (Path(__file__).resolve().parents[3] / "shared" / "seeds").glob("003_*.txt"))
    require(seeds[0] if seeds else None, "the seed document 003_*.txt", "/work/shared/seeds or ../shared/seeds")
    assert DOC.read_bytes() == seeds[0].read_bytes()


def test_historical_examples_fetch_store_load_update_and_list(folder, smartapi, clock, capsys):
    ns = run(block("# Fetch and save 5-minute data for last 5 days"))
    df = ns["df"]
    # 2024-01-11, 12, 15 (75 each) and 2024-01-16 up to the last complete candle before 13:45
    assert len(df) == 3 * 75 + 54 and df["timestamp"].min() == pd.Timestamp(at(11, 9, 15))
    assert df["timestamp"].max() == pd.Timestamp(at(16, 13, 40))
    assert f"Fetched {len(df)} candles" in capsys.readouterr().out
    csv = Path("data/historical/NIFTY_FIVE_MINUTE/NIFTY_FIVE_MINUTE.csv").read_text().splitlines()
    assert csv[0] == "timestamp,open,high,low,close,volume" and csv[1].startswith("2024-01-11 09:15:00,")
    assert len(csv) == len(df) + 1

    run(block("# Available intervals"), ns)  # BANKNIFTY 15-minute, 10 days
    bank = ns["df"]
    assert set(bank["timestamp"].dt.strftime("%H:%M")) <= {f"{h:02d}:{m:02d}" for h in range(9, 16) for m in (0, 15, 30, 45)}
    assert bank["timestamp"].max() == pd.Timestamp(at(16, 13, 30)) and bank["timestamp"].min().date() == dt.date(2024, 1, 8)

    run(block("# Load previously saved data"), ns)
    assert len(ns["df"]) == len(df) and ns["df"].attrs["symbol"] == "NIFTY"

    clock.t = at(16, 14, 50)
    run(block("# Update existing data with latest candles"), ns)
    assert len(ns["df"]) == len(df) + 13 and ns["df"]["timestamp"].max() == pd.Timestamp(at(16, 14, 45))

    run(block("# Fetch specific date range"), ns)  # fetch only, 2024-01-01 .. 2024-01-31 (up to "now")
    assert ns["df"]["timestamp"].min() == pd.Timestamp(at(1, 9, 15))
    assert ns["df"]["timestamp"].max() == pd.Timestamp(at(16, 14, 45))

    run(block("# Get list of available data files"), ns)
    out = capsys.readouterr().out
    assert "Symbol: NIFTY\nInterval: FIVE_MINUTE" in out and "Symbol: BANKNIFTY\nInterval: FIFTEEN_MINUTE" in out
    ops = [e["op"] for e in journal.read(folder)]
    assert ops.count("fetch") == 2 and "update" in ops and ops.count("fetch csv") == 2


def test_late_start_backfills_the_morning_and_resamples_every_timeframe(folder, smartapi, clock, caplog):
    caplog.set_level(logging.INFO)
    clock.t = at(15, 18, 0)  # day 1: the script ran after the close, data up to 15:30
    day1 = dm.get_historical_manager().update_intraday_data("NIFTY", "99926000")
    assert len(day1) == 375 and day1["timestamp"].max() == pd.Timestamp(at(15, 15, 29))

    clock.t = at(16, 13, 45)  # day 2: late start
    ns = run(block("# Day 1: Script ran normally, data up to 15:30"), imports())
    df = ns["df"]
    today = df[df["timestamp"].dt.date == dt.date(2024, 1, 16)]
    assert len(df) == 375 + 241 and len(today) == 241
    assert (today["timestamp"].min(), today["timestamp"].max()) == (pd.Timestamp(at(16, 9, 15)), pd.Timestamp(at(16, 13, 15)))
    log = caplog.text
    for line in ("Late start detected", "Window: 2024-01-16 09:15:00 → 2024-01-16 13:15:00",
                 "✓ Fetched 241 1-minute candles", "✓ Merged: added 241 new candles, total: 616",
                 "Resampling complete: 6/6 timeframes successful"):
        assert line in log
    mgr = dm.get_historical_manager()
    for tf in TIMEFRAMES:
        assert Path(f"data/historical/NIFTY_{tf}/NIFTY_{tf}.csv").is_file()
        got = mgr.load_historical_data("NIFTY", tf)
        assert got["timestamp"].max().strftime("%d %H:%M") == "16 13:15"  # the partial last bucket is kept
    hour = mgr.load_historical_data("NIFTY", "ONE_HOUR")
    assert [t.strftime("%H:%M") for t in hour["timestamp"] if t.day == 16] == ["09:15", "10:15", "11:15", "12:15", "13:15"]
    # the full day 1 agrees with the server's own ONE_HOUR / THIRTY_MINUTE candles (anchored at 09:15)
    for tf, n in (("ONE_HOUR", 7), ("THIRTY_MINUTE", 13), ("FIFTEEN_MINUTE", 25), ("FIVE_MINUTE", 75)):
        ours = mgr.load_historical_data("NIFTY", tf)
        ours = ours[ours["timestamp"].dt.day == 15]
        theirs = candles(TOKENS[("NSE", "99926000")], tf, at(15, 0, 0), at(15, 23, 59))
        assert len(ours) == len(theirs) == n
        assert [r[0] for r in theirs] == [t.isoformat() for t in ours["timestamp"]]
        flat = [v for r in theirs for v in r[1:]]
        assert ours[["open", "high", "low", "close", "volume"]].to_numpy().ravel().tolist() == pytest.approx(flat)

    # Example 5 as written: the automatic late-start demo (already current), the manual backfill, post-market
    ex5 = run(block("Handling late start scenarios with automatic backfill"))
    caplog.clear()
    ex5["demo_late_start_backfill"]()
    assert all(f"✓ {tf}: Created" in caplog.text for tf in TIMEFRAMES)
    ex5["demo_manual_backfill"]()
    assert "Expected: ~181 candles, Actual: 181" in caplog.text
    clock.t = at(16, 18, 0)
    ex5["demo_post_market_backfill"]()
    full = mgr.load_historical_data("NIFTY", "ONE_MINUTE")
    assert (full["timestamp"].dt.date == dt.date(2024, 1, 16)).sum() == 375
    assert "Window: 2024-01-16 13:16:00 → 2024-01-16 15:30:00" in caplog.text


def test_processing_examples_validate_cache_filter_and_resample(folder, smartapi, clock, capsys, caplog):
    caplog.set_level(logging.INFO)
    clock.t = at(15, 18, 0)
    hist_mgr = dm.get_historical_manager()
    hist_mgr.update_intraday_data("NIFTY", "99926000")
    ns = {**imports(), "hist_mgr": hist_mgr, "df": hist_mgr.load_historical_data("NIFTY", "ONE_MINUTE")}
    run(block("# Validate candle data"), ns)
    assert "Data is valid" in capsys.readouterr().out and len(ns["df_clean"]) == 375
    run(block("# Cache data with 5-minute TTL"), ns)
    assert "Using cached data" in capsys.readouterr().out
    assert not list(Path("data/cache").glob("*.data"))  # cleared by the example
    run(block("# Resample 1-minute data to 5-minute"), ns)
    assert (len(ns["df_5min"]), len(ns["df_15min"]), len(ns["df_hourly"])) == (75, 25, 7)
    run(block("# Filter out any candles after market close (15:30)"), ns)
    assert "Market opens at: 09:15" in capsys.readouterr().out and len(ns["df_filtered"]) == 375
    run(block("# Example: Resampling retains all candles"), ns)
    assert ns["df_30min"]["timestamp"].iloc[-1].strftime("%H:%M") == "15:15" and len(ns["df_30min"]) == 13
    assert ns["df_1h"]["timestamp"].iloc[-1].strftime("%H:%M") == "15:15" and len(ns["df_1h"]) == 7

    ex4 = run(block("Complete workflow showing end-of-day handling for all timeframes"))
    ex4["demo_end_of_day_resampling"]()
    for line in ("Total candles: 75", "Total candles: 25", "Total candles: 13", "Total candles: 7",
                 "✓ 3min: Success", "✓ 1H: Success"):
        assert line in caplog.text
    for code in ("# Always validate data before using", "# Cache data for performance",
                 "# Always filter market hours before processing", "# All timeframes retain partial candles"):
        run(block(code), ns)
    assert dm.get_data_processor().get_cached_data("nifty_data") is not None


def test_strategy_example_loads_updates_and_validates(folder, smartapi, clock):
    ex2 = run(block("Strategy module reading historical data from Data Module"))
    strategy = ex2["MovingAverageCrossover"]("NIFTY", "99926000")
    assert strategy.generate_signals() == "HOLD"  # fetched 10 days (no data yet)
    clock.t = at(16, 15, 0)
    assert strategy.generate_signals() == "HOLD"  # updated
    df = dm.get_historical_manager().load_historical_data("NIFTY", "FIVE_MINUTE")
    assert df["timestamp"].max() == pd.Timestamp(at(16, 14, 55))


def _feed_file() -> dict:
    return json.loads(Path("data/live/live_feed_data.json").read_text())


def test_live_examples_on_the_replay_source(folder, smartapi, clock, capsys):
    clock.t = at(15, 18, 0)
    dm.get_historical_manager().update_intraday_data("NIFTY", "99926000")  # a 1m master to replay
    dm.configure(settings=folder, clock=clock, history_source=SmartApiHistory(min_interval=0),
                 live_source="replay", live_symbols=["NIFTY"], interval=0.1, speed=600.0)
    ns = run(block("# Get feed instance"))
    run(block("# Get current live price"), ns)
    run(block("# Get complete tick data"), ns)
    out = capsys.readouterr().out
    assert "Feed started successfully" in out and "Data is ready" in out and "Symbol: NIFTY" in out
    assert isinstance(ns["price"], float) and f"Current price: {ns['price']}" in out
    obj = _feed_file()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", obj["timestamp"]) and obj["timezone"] == "Asia/Kolkata"
    tick = obj["data"][0]
    assert re.fullmatch(r"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d", tick["exchange_timestamp"])
    assert tick["exchange_time_iso"].endswith("+05:30")
    assert set(tick) >= {"trading_symbol", "last_traded_price", "open", "high", "low", "close", "volume"}
    feed = ns["feed"]
    assert feed.validate_feed_file() is True and feed.is_data_fresh()
    pid = feed.feed_process.pid
    run(next(b for b in blocks() if b.strip() == "feed.restart_feed()"), ns)
    assert feed.wait_for_data() and feed.running_pid() != pid
    run(block("if feed.feed_process:"), ns)
    assert "Running: True" in capsys.readouterr().out
    run(block("# Always check data freshness before trading"), ns)
    run(block("# Stop feed gracefully"), ns)
    assert "Feed stopped" in capsys.readouterr().out and not feed.is_running()
    ns2 = run(block("# Always use try-finally to ensure cleanup"), imports())
    assert not ns2["feed"].is_running()


def test_live_examples_on_smartapi_with_login_by_pin_and_totp(folder, smartapi, monkeypatch, capsys):
    for k in ("DATAMGR_SMARTAPI_JWT", "DATAMGR_SMARTAPI_FEED_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    creds = {"Authorization": f"Bearer {JWT}", "x-api-key": API_KEY, "x-client-code": CLIENT, "x-feed-token": "feed-1"}
    with SmartStream(creds=creds) as ws:
        dm.configure(settings=folder, interval=0.1, url=ws.url)  # default: smartapi NIFTY, BANKNIFTY
        ns = run(block("# Get feed instance"))
        run(block("# Get current live price"), ns)
        run(block("# Get complete tick data"), ns)
        assert "Symbol: NIFTY" in capsys.readouterr().out and ws.rejected == 0 and smartapi.logins == 1
        feed = ns["feed"]
        deadline = dt.datetime.now() + dt.timedelta(seconds=10)
        while len(_feed_file()["data"]) < 2 and dt.datetime.now() < deadline:
            feed.wait_for_data(timeout=1)
        assert {q["trading_symbol"] for q in _feed_file()["data"]} == {"NIFTY", "BANKNIFTY"}
        assert feed.get_live_price("BANKNIFTY") is not None
        run(block("# Stop feed gracefully"), ns)
    leaked = [p for p in Path(".").rglob("*") if p.is_file() and any(
        s.encode() in p.read_bytes() for s in (PIN, TOTP_SECRET, API_KEY, JWT))]
    assert leaked == []
