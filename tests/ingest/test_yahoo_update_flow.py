"""Planted bad candles are quarantined with reasons; good bars merge; a second update is a no-op."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from datamgr.ingest.validate import read_quarantine
from datamgr.ops.update import update
from datamgr.store.journal import read as read_journal
from datamgr.store.store import Store
from tests.conftest import folder_hash
from tests.ingest.yahoo_builders import NOW, SPLIT, plant
from tests.ingest.yahoo_fake import FakeYahooSession


def test_planted_bad_candles_are_quarantined_with_reasons_while_good_bars_merge(seeded):
    settings, master, yahoo = seeded
    bad, spots = plant(yahoo)
    res = update(settings, "ES1", session=FakeYahooSession({"1m": bad}), now=NOW, no_derived=True)
    j = res.to_json()
    assert j["quarantined"] == 5 and j["written"]
    q = read_quarantine(j["quarantine_file"])
    reason = {r["datetime"]: r["reason"] for r in q.iter_rows(named=True)}
    assert "spike" in reason[spots["spike"]]
    assert "off tick grid" in reason[spots["off_tick"]]
    assert "invariant: low > high" in reason[spots["broken"]]
    assert "disagrees with ninjatrader" in reason[spots["disagree"]]
    assert reason[spots["outside"]] == "outside session"
    assert q.columns[-1] == "reason" and set(q["source"]) == {"yahoo"}
    got = Store(settings).read("ES1", "1m")
    # the master's bars stayed as they were; every good Yahoo bar after the master's end was added
    assert got.filter(pl.col("datetime") < SPLIT).equals(master)
    tail = got.filter(pl.col("datetime") >= SPLIT)
    good = yahoo.filter((pl.col("datetime") >= SPLIT) & (pl.col("datetime") + pl.duration(minutes=1) <= NOW)
                        & ~pl.col("datetime").is_in(list(spots.values())))
    assert tail.equals(good)
    assert set(tail["source"]) == {"yahoo"}
    entry = [e for e in read_journal(settings) if e["op"] == "update"][-1]
    assert entry["details"]["quarantined"] == 5 and entry["added"] == good.height


def test_second_update_with_the_same_answer_changes_nothing(seeded):
    settings, _, yahoo = seeded
    update(settings, "ES1", session=FakeYahooSession({"1m": yahoo}), now=NOW, no_derived=True)
    before = folder_hash(settings.data_dir)
    res = update(settings, "ES1", session=FakeYahooSession({"1m": yahoo}), now=NOW, no_derived=True)
    j = res.to_json()
    assert j["new"] == 0 and j["identical"] > 0 and not j["written"] and j["quarantine_file"] is None
    assert folder_hash(settings.data_dir) == before


def test_dry_run_plans_and_writes_nothing_not_even_the_quarantine(seeded):
    settings, _, yahoo = seeded
    bad, _ = plant(yahoo)
    before = folder_hash(settings.data_dir)
    j = update(settings, "ES1", session=FakeYahooSession({"1m": bad}), now=NOW, dry_run=True).to_json()
    assert j["dry_run"] and j["new"] > 0 and j["quarantined"] == 5 and j["quarantine_file"] is None
    assert folder_hash(settings.data_dir) == before


def test_update_regenerates_derived_data_from_the_new_master(seeded):
    settings, _, yahoo = seeded
    res = update(settings, "ES1", session=FakeYahooSession({"1m": yahoo}), now=NOW)
    assert res.written and res.derived_error is None
    five = Store(settings).read("ES1", "5m")
    assert five["datetime"].max() == dt.datetime(2025, 3, 7, 21, 55, tzinfo=dt.UTC)
    hod = json.loads((settings.data_dir / "ES1_daily_hod_lod.json").read_text())
    assert hod["days"][-1]["date"] == "2025-03-07"


def test_everything_rejected_writes_nothing_and_lists_the_rejected_bars(seeded):
    settings, _, yahoo = seeded
    junk = yahoo.filter(pl.col("datetime") >= SPLIT).with_columns((pl.col("close") + 0.1).alias("close"))
    junk = junk.with_columns(pl.max_horizontal("high", "close").alias("high"), pl.min_horizontal("low", "close").alias("low"))
    before = folder_hash(settings.data_dir)
    res = update(settings, "ES1", session=FakeYahooSession({"1m": junk}), now=NOW)
    assert res.all_rejected and not res.written and res.quarantine_file is None
    assert folder_hash(settings.data_dir) == before  # no quarantine file, backup or journal line either
    j = res.to_json()
    assert j["quarantined"] == res.validation.fetched and j["rejected"] and all(r["reason"] for r in j["rejected"])
