"""Contract months (issue 8 item 2): an export of the next contract overlapping the master.

Built from the real ``MES 09-25.Last.txt``: the master holds Mon 2025-07-07 .. Thu 07-10 as
``MES 09-25``; the "December" export is the same minutes 07-09 .. 07-15 at +57.25 points (a
constant calendar spread), trading a quarter of the volume until 07-10 12:00 UTC and four times
it afterwards. The expected roll session is computed here from the lines themselves."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
import pytest

from datamgr.core.config import Settings
from datamgr.ops.import_export import import_export, verify_export
from datamgr.store.store import Store
from tests.ingest.real_windows import MES, find, lines, render, stamp, transform

OFFSET = 57.25


def _vol(rows):
    def f(i, v):
        return max(1, v // 4) if rows[i] < "20250710 120000" else v * 4
    return f


@pytest.fixture
def roll_case(real_data_dir, settings):
    rows = lines(real_data_dir / MES)
    old = rows[find(rows, "20250707 000000"):find(rows, "20250711 000000")]
    part = rows[find(rows, "20250709 000000"):find(rows, "20250715 000000")]
    new = transform(part, add=OFFSET, volume=_vol(part))
    res = import_export(settings, "MES1", render(old), "MES 09-25.Last.txt", tz="UTC", no_derived=True)
    assert res.written
    return settings, old, new


def _session(t: dt.datetime) -> dt.date:
    """CME trading day of a July (CDT) bar open time: sessions open 22:00 UTC the day before."""
    return (t + dt.timedelta(hours=2)).date()


def _expected_roll(old: list[str], new: list[str]) -> dt.datetime:
    vol_old, vol_new, first_new = defaultdict(int), defaultdict(int), {}
    for ln in old:
        vol_old[_session(stamp(ln) - dt.timedelta(minutes=1))] += int(ln.split(";")[5])
    for ln in new:
        t = stamp(ln) - dt.timedelta(minutes=1)
        vol_new[_session(t)] += int(ln.split(";")[5])
        first_new.setdefault(_session(t), t)
    day = min(d for d in vol_new if d in vol_old and vol_new[d] > vol_old[d])
    return first_new[day].replace(tzinfo=dt.UTC)


def test_constant_offset_export_is_another_contract_and_keeps_the_zone(roll_case):
    settings, old, new = roll_case
    rep = verify_export(settings, "MES1", render(new), "MES 12-25.Last.txt", tz="UTC")
    assert rep.verdict == "SUCCESS", rep.message
    assert (rep.zone_ranking[0].tz, rep.zone_ranking[0].stamp) == ("UTC", "close")
    assert rep.zone_decision == "overlap" and rep.zone_ranking[0].shape > 0.99
    assert rep.overlap.contract_offset == OFFSET and rep.overlap.contract == "MES 12-25"
    assert rep.overlap.match_rate == 0.0 and not rep.price_refused and rep.price.explained_by_roll
    assert any("another contract month (MES 12-25)" in n and "+57.25 points" in n for n in rep.notes)
    for wrong in ("America/Los_Angeles", "America/Chicago", "America/New_York"):
        bad = verify_export(settings, "MES1", render(new), "MES 12-25.Last.txt", tz=wrong)
        assert bad.verdict == "FAIL" and '--tz "UTC"' in bad.message


def test_import_switches_contract_exactly_once_at_the_volume_roll(roll_case):
    settings, old, new = roll_case
    expected_at = _expected_roll(old, new)
    dry = import_export(settings, "MES1", render(new), "MES 12-25.Last.txt", tz="UTC", dry_run=True)
    roll = dry.to_json()["roll"]
    assert roll["earlier"] == "MES 09-25" and roll["later"] == "MES 12-25" and roll["offset"] == OFFSET
    assert roll["rule"] == "volume" and roll["direction"] == "forward" and "switches from MES 09-25" in roll["message"]
    assert dry.roll.at == expected_at
    res = import_export(settings, "MES1", render(new), "MES 12-25.Last.txt", tz="UTC", no_derived=True)
    assert res.written
    got = Store(settings).read("MES1", "1m")
    orig = {stamp(ln).replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1): float(ln.split(";")[4]) for ln in old}
    orig.update({stamp(ln).replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1): float(ln.split(";")[4]) - OFFSET
                 for ln in new if stamp(ln).replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1) not in orig})
    labels = []
    for t, c in got.select("datetime", "close").iter_rows():
        assert c in (orig[t], orig[t] + OFFSET)
        labels.append("new" if c == orig[t] + OFFSET and c != orig[t] else "old")
    switches = [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
    assert len(switches) == 1, "the master must switch contract exactly once"
    assert got["datetime"][switches[0]] == expected_at
    # every minute of both contracts around the roll is there exactly once, none interleaved
    assert got.filter(pl.col("datetime") < expected_at)["datetime"].to_list() == sorted(
        t for t in orig if t < expected_at)
    meta = Store(settings).read_meta("MES1", "1m")
    assert [c["contract"] for c in meta.contracts] == ["MES 09-25", "MES 12-25"]
    assert meta.contracts[1]["start"] == expected_at.isoformat() and meta.contracts[1]["roll_offset"] == OFFSET
    assert meta.contracts[0]["end"] < meta.contracts[1]["start"]


def test_after_old_rule_keeps_the_old_contract_through_the_overlap(roll_case, tmp_path):
    settings, old, new = roll_case
    cfg = tmp_path / "datamgr.toml"
    cfg.write_text('[instruments.MES1]\nroll = "after-old"\nimport_tz = "UTC"\n')
    s2 = Settings.load(data_dir=settings.data_dir, config=cfg, env={})
    res = import_export(s2, "MES1", render(new), "MES 12-25.Last.txt", no_derived=True)
    old_end = stamp(old[-1]).replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1)
    assert res.roll.rule == "after-old" and res.roll.at > old_end
    got = Store(s2).read("MES1", "1m")
    assert got.filter(pl.col("datetime") <= old_end).height == len(old)


def test_backfilling_the_older_contract_switches_once_too(real_data_dir, settings):
    rows = lines(real_data_dir / MES)
    part = rows[find(rows, "20250709 000000"):find(rows, "20250715 000000")]
    dec = transform(part, add=OFFSET, volume=_vol(part))  # the master holds December from 07-09
    sep = rows[find(rows, "20250707 000000"):find(rows, "20250711 000000")]  # September, earlier
    assert import_export(settings, "MES1", render(dec), "MES 12-25.Last.txt", tz="UTC", no_derived=True).written
    res = import_export(settings, "MES1", render(sep), "MES 09-25.Last.txt", tz="UTC", no_derived=True)
    assert res.roll is not None and res.roll.direction == "backward"
    assert (res.roll.earlier, res.roll.later, res.roll.offset) == ("MES 09-25", "MES 12-25", OFFSET)
    assert res.roll.at == _expected_roll(sep, dec)
    got = Store(settings).read("MES1", "1m")
    sep_close = {stamp(ln).replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1): float(ln.split(";")[4]) for ln in sep}
    labels = ["sep" if sep_close.get(t) == c else "dec" for t, c in got.select("datetime", "close").iter_rows()]
    assert sum(labels[i] != labels[i - 1] for i in range(1, len(labels))) == 1
    assert labels[0] == "sep" and labels[-1] == "dec"
    meta = Store(settings).read_meta("MES1", "1m")
    assert [c["contract"] for c in meta.contracts] == ["MES 09-25", "MES 12-25"]
    assert meta.contracts[1]["roll_offset"] == OFFSET
