"""Data-module fixtures: the loopback SmartAPI REST server, a data folder in the working directory
(the document's examples use relative paths such as ``data/historical/...``), a pinned clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import datamgr.data_module as dm
from datamgr.core.config import Settings
from datamgr.ingest.smartapi import SmartApiHistory
from tests.data_module.smartapi_rest import ENV, SmartApiRest

IST = ZoneInfo("Asia/Kolkata")


class Clock:
    """A settable "now" (aware)."""

    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


@pytest.fixture
def smartapi(monkeypatch):
    """The loopback SmartAPI REST server with the credentials in the environment."""
    with SmartApiRest() as server:
        for k, v in ENV.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DATAMGR_SMARTAPI_URL", server.url)
        yield server


@pytest.fixture
def clock():
    return Clock(dt.datetime(2024, 1, 16, 13, 45, tzinfo=IST))


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def folder(tmp_path, monkeypatch, smartapi, clock, sleeps):
    """``./data`` in a fresh working directory, the factories bound to it, the clock pinned."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    settings = Settings.load(data_dir=tmp_path / "data", env={})
    source = SmartApiHistory(sleep=sleeps.append, min_interval=0.0, backoff=0.01)
    dm.configure(settings=settings, clock=clock, history_source=source)
    yield settings
    stop_live()
    dm.configure()


def stop_live() -> None:
    """Stop the shared live feed if a test started one (never leave a process behind)."""
    feed = dm._shared.get("live")
    if feed is not None:
        feed.stop_feed(timeout=5)
        if feed._proc is not None:
            feed._proc.kill()
            feed._proc.wait(5)
