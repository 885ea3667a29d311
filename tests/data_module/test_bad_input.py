"""Bad input and provider failures: a clear error, nothing written (the data folder hashes the same),
no secret in any log or file; retries with backoff; request windows split by the day limits."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import datamgr.data_module as dm
from datamgr.core.errors import ConfigError, InputError, SourceError
from datamgr.ingest.smartapi import MAX_DAYS, SmartApiHistory, split_windows
from tests.conftest import folder_hash
from tests.data_module.smartapi_rest import API_KEY, JWT, PIN, TOTP_SECRET

IST = ZoneInfo("Asia/Kolkata")
GOOD = ["2024-01-16T09:15:00+05:30", 21500.0, 21510.0, 21490.0, 21505.0, 1000]


@pytest.fixture
def seeded(folder, smartapi, clock):
    """A folder holding NIFTY 1m data of 2024-01-15 and its resampled files."""
    clock.t = dt.datetime(2024, 1, 15, 18, 0, tzinfo=IST)
    dm.get_historical_manager().update_intraday_data("NIFTY", "99926000")
    clock.t = dt.datetime(2024, 1, 16, 13, 45, tzinfo=IST)
    return folder


def _refused(settings, call, error, match: str, caplog) -> None:
    before = folder_hash(settings.data_dir)
    with caplog.at_level(logging.DEBUG), pytest.raises(error, match=match):
        call()
    assert folder_hash(settings.data_dir) == before
    for secret in (PIN, TOTP_SECRET, API_KEY, JWT):
        assert secret not in caplog.text


def _update():
    return dm.get_historical_manager().update_intraday_data("NIFTY", "99926000")


@pytest.mark.parametrize(("env", "value", "error", "match"), [
    ("DATAMGR_SMARTAPI_PIN", "0000", SourceError, "login of client T1234: Invalid PIN"),
    ("DATAMGR_SMARTAPI_TOTP_SECRET", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", SourceError, "Invalid totp"),
    ("DATAMGR_SMARTAPI_API_KEY", "wrong", SourceError, "HTTP 401: Invalid API Key"),
    ("DATAMGR_SMARTAPI_TOTP_SECRET", "not base32!", ConfigError, "DATAMGR_SMARTAPI_TOTP_SECRET is not a base32"),
    ("DATAMGR_SMARTAPI_PIN", "", ConfigError, "DATAMGR_SMARTAPI_PIN missing"),
])
def test_wrong_credentials_are_refused_naming_the_cause_and_nothing_is_written(seeded, monkeypatch, caplog,
                                                                               env, value, error, match):
    monkeypatch.setenv(env, value)
    dm.configure(settings=seeded, clock=dm.get_historical_manager().clock,
                 history_source=SmartApiHistory(min_interval=0, backoff=0.001))
    _refused(seeded, _update, error, match, caplog)


@pytest.mark.parametrize(("fault", "error", "match"), [
    ((400, {"status": False, "message": "Invalid interval", "errorcode": "AB1018", "data": None}), SourceError,
     r"HTTP 400: Invalid interval \(AB1018\)"),
    ((200, {"status": True, "message": "SUCCESS", "errorcode": "", "data": []}), SourceError, "returned no candles"),
    ((200, {"status": True, "message": "SUCCESS", "errorcode": "", "data": None}), SourceError, "returned no candles"),
    ((200, {"status": True, "data": [GOOD, ["2024-01-16T09:16:00+05:30", "21500", 1, 1, 1, 5]]}), InputError,
     "candle 1: field open: '21500' is not a number"),
    ((200, {"status": True, "data": [GOOD, ["2024-01-16 09:16", 1.0, 1.0, 1.0, 1.0, 5]]}), InputError,
     "candle 1: field timestamp: '2024-01-16 09:16' is not an ISO 8601 time with offset"),
    ((200, {"status": True, "data": [[GOOD[0], 1.0, 2.0]]}), InputError, r"candle 0: expected \[timestamp"),
    ((200, {"status": True, "data": [GOOD, ["2024-01-16T09:16:00+05:30", 21500.0, 21400.0, 21450.0, 21500.0, 5]]}),
     InputError, r"high < max\(open, close\): 1 row"),
    ((200, {"status": True, "data": "nope"}), InputError, "field 'data' is not a list"),
    ((200, "<html>gateway</html>"), SourceError, "the answer is not JSON"),
])
def test_provider_errors_and_malformed_candles_write_nothing(seeded, smartapi, caplog, fault, error, match):
    smartapi.faults.append(fault)
    _refused(seeded, _update, error, match, caplog)


def test_rate_limit_and_5xx_are_retried_with_backoff_then_succeed(seeded, smartapi, sleeps):
    limit = (403, {"status": False, "message": "Access denied because of exceeding access rate", "errorcode": "AB1004"})
    smartapi.faults += [limit, (503, "Service Unavailable"), (500, {"message": "Internal error"})]
    df = _update()
    assert (df["timestamp"].dt.day == 16).sum() == 241
    assert sleeps[-3:] == [0.01, 0.02, 0.04]  # backoff doubles


def test_persistent_5xx_gives_up_after_the_retries_and_writes_nothing(seeded, smartapi, caplog, sleeps):
    smartapi.faults += [(502, "Bad Gateway")] * 10
    _refused(seeded, _update, SourceError, "HTTP 502 Bad Gateway after 5 attempts", caplog)
    assert len(sleeps) == 4


def test_a_token_of_another_instrument_or_exchange_is_refused_before_any_request(seeded, smartapi, caplog):
    mgr = dm.get_historical_manager()
    n = len(smartapi.requests)
    _refused(seeded, lambda: mgr.fetch_and_save_historical_data("NIFTY", "99926009"), ConfigError,
             "token '99926009' is not NIFTY's SmartAPI token", caplog)
    _refused(seeded, lambda: mgr.fetch_and_save_historical_data("NIFTY", "99926000", exchange="BSE"), ConfigError,
             "exchange 'BSE' is not NIFTY's exchange", caplog)
    _refused(seeded, lambda: mgr.fetch_and_save_historical_data("SENSEX", "99919000", exchange="MCX"), ConfigError,
             "only NSE/NFO/BSE/BFO hours are known", caplog)
    assert len(smartapi.requests) == n
    # a BSE token asked on NSE: the server refuses it
    _refused(seeded, lambda: mgr.fetch_and_save_historical_data("SENSEX", "99919000", exchange="NSE"), SourceError,
             r"Invalid symbol token \(AB4008\)", caplog)


def test_bad_arguments_name_the_parameter(seeded, caplog):
    mgr = dm.get_historical_manager()
    _refused(seeded, lambda: mgr.fetch_and_save_historical_data("NIFTY", "99926000", interval="TWO_MINUTE"), ConfigError,
             "interval 'TWO_MINUTE' not supported", caplog)
    _refused(seeded, lambda: mgr.fetch_historical_data("NIFTY", "99926000", days=0), ConfigError, "days must be > 0", caplog)
    _refused(seeded, lambda: mgr.backfill_intraday_data("NIFTY", "99926000", dt.datetime(2024, 1, 16, 12),
                                                        dt.datetime(2024, 1, 16, 9)), ConfigError,
             "end_time .* is before start_time", caplog)
    bad = pd.DataFrame({"timestamp": ["2024-01-16 09:15"], "open": [1.0], "high": [0.5], "low": [1.0], "close": [1.0],
                        "volume": [1]})
    _refused(seeded, lambda: mgr.save_to_csv(bad, "NIFTY", "FIVE_MINUTE"), InputError,
             r"save_to_csv\(NIFTY, FIVE_MINUTE\): high < max\(open, close\): 1 row\(s\), rows 0", caplog)


def test_request_windows_follow_the_api_day_limits(folder, smartapi, clock):
    mgr = dm.get_historical_manager()
    df = mgr.fetch_historical_data("NIFTY", "99926000", interval="ONE_MINUTE",
                                   from_date=dt.datetime(2023, 11, 1, 9, 15), to_date=dt.datetime(2024, 1, 12, 15, 30))
    reqs = [r["body"] for r in smartapi.candle_requests]
    spans = [dt.datetime.strptime(r["todate"], "%Y-%m-%d %H:%M") - dt.datetime.strptime(r["fromdate"], "%Y-%m-%d %H:%M")
             for r in reqs]
    assert len(reqs) == 3 and all(s <= dt.timedelta(days=30) for s in spans)
    assert df["timestamp"].is_unique and df["timestamp"].is_monotonic_increasing
    assert df["timestamp"].min() == pd.Timestamp("2023-11-01 09:15", tz=IST)
    for interval, days in MAX_DAYS.items():
        a = dt.datetime(2020, 1, 1, tzinfo=IST)
        w = split_windows(a, a + dt.timedelta(days=3 * days), interval)
        assert len(w) == 4 and all(b - x < dt.timedelta(days=days) for x, b in w)
        assert all(w[i + 1][0] > w[i][1] for i in range(3))
