"""The Live page under AppTest: start the replay feed, see prices and their age, stop it."""

from __future__ import annotations

import pytest

from datamgr.core.config import Settings
from datamgr.live.controller import LiveDataFeed
from datamgr.store.store import Store


@pytest.fixture
def live_folder(app_data, week_bars):
    """The page's data folder with an ES1 1m master; any feed started on it is stopped afterwards."""
    s = Settings.load(data_dir=app_data, env={})
    Store(s).write("ES1", "1m", week_bars, operation="test")
    yield s
    LiveDataFeed(s).stop_feed(timeout=5)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_live_page_starts_the_replay_feed_shows_prices_and_stops_it(live_folder, page_test):
    at = page_test("live").run()
    assert not at.exception
    assert at.title[0].value == "Live"
    assert _metrics(at) == {"Feed": "stopped", "Data age": "—", "State": "stopped"}
    assert "No live data yet" in at.info[0].value
    start, stop = at.button
    assert start.label == "Start feed" and not start.disabled and stop.disabled
    at.number_input[0].set_value(600.0)
    start.click().run()
    assert not at.exception and not at.error
    feed = LiveDataFeed(live_folder)
    assert feed.is_running() and feed.wait_for_data(timeout=10)
    at.run()
    metrics = _metrics(at)
    assert metrics["Feed"] == f"running (pid {feed.running_pid()})" and metrics["State"] == "connected"
    assert metrics["Data age"].endswith(" s")
    assert float(metrics["ES1"].replace(",", "")) > 0  # the price, shown big
    table = at.dataframe[0].value
    assert list(table["trading_symbol"]) == ["ES1"] and table["last_traded_price"].iloc[0] > 0
    assert at.button[0].disabled and not at.button[1].disabled
    at.button[1].click().run()
    assert not feed.is_running()
    assert _metrics(at)["Feed"] == "stopped"
    assert "Prices are stale" in at.warning[0].value  # the last prices stay visible, marked stale


def test_the_live_page_names_the_missing_master_when_replay_cannot_start(app_data, page_test):
    at = page_test("live").run()
    at.button[0].click().run()
    assert not at.exception
    assert "no 1m master for 'ES1'" in at.error[0].value and "ES1_1m.parquet" in at.error[0].value
    assert _metrics(at)["Feed"] == "stopped"


def test_the_live_page_reports_a_killed_feed_as_stopped_and_keeps_working(live_folder, page_test):
    import os
    import signal
    import time

    from tests.conftest import folder_hash

    market = lambda: {k: v for k, v in folder_hash(live_folder.data_dir).items() if not k.startswith("live")}
    before = market()
    at = page_test("live").run()
    at.button[0].click().run()
    feed = LiveDataFeed(live_folder)
    assert feed.wait_for_data(timeout=10)
    os.kill(feed.running_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while feed.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert not at.exception
    assert _metrics(at)["Feed"] == "stopped" and not at.button[0].disabled
    assert market() == before
    at.button[0].click().run()  # and it starts again
    assert not at.exception and LiveDataFeed(live_folder).wait_for_data(timeout=10)
