"""calendar_overrides.toml: closed/opened periods change the calendar; acknowledging a gap is an
atomic, journaled write; a bad file is refused with file, line/entry and field."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from zoneinfo import ZoneInfo

import pytest

from datamgr.calendar.overrides import load_overrides
from datamgr.calendar.sessions import calendar_for
from datamgr.core.config import Settings
from datamgr.core.errors import InputError
from datamgr.ops.acknowledge import acknowledge_gap

ET = ZoneInfo("America/New_York")
D = dt.date


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET)


@pytest.fixture
def cfg(tmp_path) -> Settings:
    return Settings.load(data_dir=tmp_path, env={})


def digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_closed_period_removes_its_minutes_from_the_sessions(cfg):
    before = int(calendar_for(cfg, "ES1").expected_counts(D(2025, 7, 10), D(2025, 7, 10))["expected"][0])
    cfg.overrides_path.write_text(
        '[[closed]]\nstart = "2025-07-10T14:00:00-04:00"\nend = "2025-07-10T15:00:00-04:00"\n'
        'ticker = "ES1"\nreason = "outage"\n', encoding="utf-8")
    cal = calendar_for(cfg, "ES1")
    after = int(cal.expected_counts(D(2025, 7, 10), D(2025, 7, 10))["expected"][0])
    assert before - after == 60
    m = cal.expected_minutes(D(2025, 7, 10), D(2025, 7, 10))
    utc = dt.UTC
    assert not m.is_between(et(2025, 7, 10, 14).astimezone(utc), et(2025, 7, 10, 15).astimezone(utc),
                            closed="left").any()
    # other tickers are not affected
    other = calendar_for(cfg, "NQ1").expected_counts(D(2025, 7, 10), D(2025, 7, 10))
    assert int(other["expected"][0]) == before


def test_an_opened_period_adds_minutes_to_the_next_session(cfg):
    cfg.overrides_path.write_text(
        '[[opened]]\nstart = "2025-07-04T13:00:00-04:00"\nend = "2025-07-04T14:00:00-04:00"\n',
        encoding="utf-8")
    counts = calendar_for(cfg, "ES1").expected_counts(D(2025, 7, 4), D(2025, 7, 7))
    by_day = dict(zip(counts["trading_day"].to_list(), counts["expected"].to_list(), strict=True))
    assert by_day[D(2025, 7, 4)] == 1140
    assert by_day[D(2025, 7, 7)] == 1380 + 60


@pytest.mark.parametrize(("text", "needle"), [
    ('[[closed]]\nstart = "2025-07-10T14:00"\nend = \n', "line 3"),
    ('[[closed]]\nstart = "yesterday"\nend = "2025-07-10T15:00"\n', "field 'start'"),
    ('[[closed]]\nstart = "2025-07-10T15:00"\nend = "2025-07-10T14:00"\n', "field 'end'"),
    ('[[acknowledged]]\nstart = "2025-07-10T15:00"\nend = "2025-07-10T16:00"\n', "field 'ticker'"),
    ('[holidays]\nx = 1\n', "unknown table"),
])
def test_a_malformed_overrides_file_is_refused_naming_file_and_field(cfg, text, needle):
    cfg.overrides_path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        calendar_for(cfg, "ES1")
    assert needle in str(err.value)
    assert str(cfg.overrides_path) in str(err.value)


def test_acknowledging_a_gap_writes_the_overrides_file_atomically_and_journals_it(cfg):
    path = acknowledge_gap(cfg, "ES1", et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 6), 7, note='vendor "outage"')
    ov = load_overrides(path)
    assert [(a.ticker, a.start, a.end, a.missing, a.note) for a in ov.acknowledged] == [
        ("ES1", et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 6), 7, 'vendor "outage"')]
    journal = [json.loads(x) for x in cfg.journal_path.read_text().splitlines()]
    assert journal[-1]["op"] == "acknowledge_gap" and journal[-1]["details"]["missing"] == 7
    leftovers = [p.name for p in cfg.data_dir.iterdir() if ".tmp-" in p.name]
    assert leftovers == []
    # the second acknowledgement keeps the first and backs up the previous version
    acknowledge_gap(cfg, "ES1", et(2025, 6, 4, 11, 30), et(2025, 6, 4, 11, 36), 7)
    assert len(load_overrides(path).acknowledged) == 2
    assert len(load_overrides(path.with_name(path.name + ".bak")).acknowledged) == 1


def test_acknowledging_the_same_gap_twice_changes_nothing(cfg):
    acknowledge_gap(cfg, "ES1", et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 6), 7)
    before = digest(cfg.data_dir)
    acknowledge_gap(cfg, "ES1", et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 6), 7)
    assert digest(cfg.data_dir) == before


def test_acknowledging_into_a_broken_file_fails_and_changes_nothing(cfg):
    cfg.overrides_path.write_text("[[acknowledged]\nbroken", encoding="utf-8")
    before = digest(cfg.data_dir)
    with pytest.raises(InputError):
        acknowledge_gap(cfg, "ES1", et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 6), 7)
    after = digest(cfg.data_dir)
    lock_files = {".datamgr.lock", ".datamgr.lock.owner"}  # the write lock, not data
    assert {k: v for k, v in after.items() if k not in lock_files} == before
