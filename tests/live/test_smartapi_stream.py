"""Angel One SmartAPI WebSocket V2 source against a loopback server speaking its binary protocol."""

from __future__ import annotations

import time

import pytest

from datamgr.core.errors import ConfigError
from datamgr.live import files
from datamgr.live.quotes.smartapi import parse_packet, parse_symbol
from tests.live.smartapi_server import BASE_MS, ENV, SmartStream, quote_packet


@pytest.fixture
def creds(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def _wait(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_smartapi_feed_streams_quotes_decoded_from_binary_packets(settings, feeds, creds):
    with SmartStream() as server:
        feed = feeds(settings, source="smartapi", symbols=["NSE_FO:35001", "1:26000"], url=server.url)
        assert feed.start_feed() is True
        assert feed.wait_for_data(timeout=10)
        assert _wait(lambda: len((feed.get_feed_data() or {"data": []})["data"]) == 2)
        sub = server.subscriptions[0]
        assert sub["action"] == 1 and sub["params"]["mode"] == 2
        assert sorted((g["exchangeType"], tuple(g["tokens"])) for g in sub["params"]["tokenList"]) == [
            (1, ("26000",)), (2, ("35001",))]
        assert feed.validate_feed_file() is True
        q = {x["trading_symbol"]: x for x in feed.get_feed_data()["data"]}["NSE_FO:35001"]
        assert q["last_traded_price"] > 24_000.0 and (q["last_traded_price"] * 100) % 25 == 0
        assert (q["open"], q["high"], q["low"]) == (24_000.0, 24_500.0, 23_900.0) and q["volume"] > 10_000
        assert files.parse_time(q["exchange_time_iso"]).timestamp() * 1000 > BASE_MS
        assert server.rejected == 0


def test_smartapi_feed_reconnects_after_the_server_drops_it(settings, feeds, creds):
    with SmartStream(drop_after=3) as server:
        feed = feeds(settings, source="smartapi", symbols=["NSE_FO:35001"], url=server.url,
                     backoff_base=0.05, backoff_max=0.2)
        feed.start_feed()
        assert _wait(lambda: len(server.subscriptions) >= 3)
        assert feed.wait_for_data(timeout=10)
        heartbeat = files.read_json(files.live_path(settings, files.HEARTBEAT_FILE))
        assert heartbeat["connects"] >= 2
        assert "reconnect attempt 1 in 0.05 s" in files.live_path(settings, files.LOG_FILE).read_text()


def test_smartapi_without_credentials_is_refused_naming_the_variables(settings, feeds, monkeypatch):
    for k in ENV:
        monkeypatch.delenv(k, raising=False)
    feed = feeds(settings, source="smartapi", symbols=["NSE_FO:35001"])
    with pytest.raises(ConfigError, match="DATAMGR_SMARTAPI_JWT.*DATAMGR_SMARTAPI_FEED_TOKEN"):
        feed.start_feed()
    assert not feed.is_running()


def test_smartapi_with_wrong_credentials_keeps_retrying_and_reports_the_refusal(settings, feeds, creds, monkeypatch):
    monkeypatch.setenv("DATAMGR_SMARTAPI_FEED_TOKEN", "expired")
    with SmartStream() as server:
        feed = feeds(settings, source="smartapi", symbols=["NSE_FO:35001"], url=server.url,
                     backoff_base=0.05, backoff_max=0.1)
        feed.start_feed()
        assert _wait(lambda: server.rejected >= 2)
        assert _wait(lambda: "401" in (feed.status().last_error or ""))
        assert feed.status().state == "reconnecting" and feed.get_feed_data() is None


def test_smartapi_symbols_and_packets_decode_as_documented():
    assert parse_symbol("NSE_FO:35001") == (2, "35001") and parse_symbol("5:234230") == (5, "234230")
    for bad in ("35001", "NYSE:1", "NSE_FO:", "99:1"):
        with pytest.raises(ConfigError, match="EXCHANGE:TOKEN"):
            parse_symbol(bad)
    p = parse_packet(quote_packet(2, "35001", 2_400_125, 7))
    assert (p["token"], p["exchange_type"], p["sequence"], p["ltp"]) == ("35001", 2, 7, 24_001.25)
    assert p["exchange_ms"] == BASE_MS + 7000 and p["prev_close"] == 24_100.0
    ltp_only = parse_packet(quote_packet(2, "35001", 100, 1)[:51].replace(b"\x02", b"\x01", 1))
    assert ltp_only["ltp"] == 1.0 and "open" not in ltp_only


def test_a_quiet_smartapi_connection_is_kept_alive_with_ping(settings, creds):
    import threading

    from datamgr.live.quotes.smartapi import SmartApiSource

    quotes, stop = [], threading.Event()
    with SmartStream(period=0.5) as server:
        src = SmartApiSource(settings, ["NSE_FO:35001"], url=server.url, heartbeat=0.1)
        worker = threading.Thread(target=src.stream, args=(quotes.append, stop))
        worker.start()
        try:
            assert _wait(lambda: server.pings >= 2 and quotes, timeout=5)
        finally:
            stop.set()
            src.close()
            worker.join(5)
    assert not worker.is_alive()
    assert quotes[0]["trading_symbol"] == "NSE_FO:35001"
