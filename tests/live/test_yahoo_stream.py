"""Yahoo streaming through yfinance's own WebSocket client, against a loopback server."""

from __future__ import annotations

import time

from datamgr.live import files
from datamgr.live.quotes.yahoo import YahooSource
from tests.live.yahoo_server import BASE_MS, YahooStreamer, pricing_frame


def _wait(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_yahoo_feed_streams_prices_decoded_from_pricing_protobuf(settings, feeds):
    with YahooStreamer() as server:
        feed = feeds(settings, source="yahoo", symbols=["ES=F", "NQ=F"], url=server.url)
        assert feed.start_feed() is True
        assert feed.wait_for_data(timeout=10)
        assert _wait(lambda: len((feed.get_feed_data() or {"data": []})["data"]) == 2)
        assert sorted(server.subscriptions[0]) == ["ES=F", "NQ=F"]
        assert feed.validate_feed_file() is True
        quote = {q["trading_symbol"]: q for q in feed.get_feed_data()["data"]}["ES=F"]
        assert (quote["last_traded_price"] - 6000.0) % 0.25 == 0 and quote["last_traded_price"] > 6000.0
        assert quote["open"] == 6000.0 and quote["low"] == 5990.0 and quote["volume"] > 1000
        assert files.parse_time(quote["exchange_time_iso"]).timestamp() * 1000 > BASE_MS
        assert feed.status().state == "connected"


def test_yahoo_feed_reconnects_after_the_server_drops_it_and_keeps_the_prices_current(settings, feeds):
    with YahooStreamer(drop_after=3) as server:
        feed = feeds(settings, source="yahoo", symbols=["ES=F"], url=server.url, backoff_base=0.05, backoff_max=0.2)
        feed.start_feed()
        assert _wait(lambda: len(server.subscriptions) >= 4)
        assert feed.wait_for_data(timeout=10)
        assert _wait(lambda: (feed.get_live_price("ES=F") or 0) >= 6000.0 + 7 * 0.25)  # from a later connection
        heartbeat = files.read_json(files.live_path(settings, files.HEARTBEAT_FILE))
        assert heartbeat["connects"] >= 3
        log = files.live_path(settings, files.LOG_FILE).read_text()
        assert "connection closed" in log and "reconnect attempt 1 in 0.05 s" in log


def test_failed_connection_attempts_back_off_exponentially_up_to_the_cap(settings, feeds):
    with YahooStreamer(reject_first=5) as server:
        feed = feeds(settings, source="yahoo", symbols=["ES=F"], url=server.url, backoff_base=0.05, backoff_max=0.2)
        feed.start_feed()
        assert _wait(lambda: len(server.subscriptions) >= 1)  # the 6th attempt is accepted
        assert feed.wait_for_data(timeout=10)
        log = files.live_path(settings, files.LOG_FILE).read_text()
        for attempt, delay in [(1, "0.05"), (2, "0.10"), (3, "0.20"), (4, "0.20"), (5, "0.20")]:
            assert f"reconnect attempt {attempt} in {delay} s" in log
        gaps = [b - a for a, b in zip(server.attempts, server.attempts[1:])]
        assert gaps[2] >= 0.15 and gaps[0] < gaps[2]
        assert feed.status().state == "connected" and feed.status().last_error


def test_a_feed_pointed_at_a_dead_server_keeps_retrying_and_reports_it(settings, feeds):
    with YahooStreamer() as server:
        url = server.url
    feed = feeds(settings, source="yahoo", symbols=["ES=F"], url=url, backoff_base=0.05, backoff_max=0.1)
    assert feed.start_feed() is True
    assert _wait(lambda: (files.read_json(files.live_path(settings, files.HEARTBEAT_FILE)) or {}).get("attempt", 0) >= 3)
    st = feed.status()
    assert st.running and st.state == "reconnecting" and "127.0.0.1" in st.last_error
    assert not st.fresh and feed.get_feed_data() is None


def test_yahoo_messages_for_other_symbols_or_broken_payloads_are_ignored(settings):
    import base64
    import json

    from yfinance.live import WebSocket

    decode = WebSocket(verbose=False)._decode_message
    src = YahooSource(settings, ["ES=F"], url="ws://127.0.0.1:9")
    good = decode(json.loads(pricing_frame("ES=F", 6001.25, 1))["message"])
    assert src.quote(good)["last_traded_price"] == 6001.25
    assert src.quote(decode(json.loads(pricing_frame("NQ=F", 1.0, 1))["message"])) is None
    assert src.quote({"error": "bad", "raw_base64": base64.b64encode(b"x").decode()}) is None
