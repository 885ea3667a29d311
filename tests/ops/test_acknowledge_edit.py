"""Issue 11 (Low): acknowledging gaps edits ``calendar_overrides.toml`` -- comments and keys datamgr
does not know survive -- and a note with a control character is refused naming the field, with
nothing changed on disk."""

from __future__ import annotations

import datetime as dt
import tomllib
from zoneinfo import ZoneInfo

import pytest

from datamgr.calendar.overrides import load_overrides
from datamgr.core.errors import InputError
from datamgr.ops.acknowledge import acknowledge_gaps
from tests.conftest import folder_hash

ET = ZoneInfo("America/New_York")
GAP = (dt.datetime(2025, 6, 3, 10, 0, tzinfo=ET), dt.datetime(2025, 6, 3, 10, 6, tzinfo=ET), 7)

HAND_WRITTEN = """\
# Overrides for the desk -- keep this header (edited by hand, reviewed on Mondays)

[[closed]]
start = "2025-07-10T14:00:00-04:00"   # ISO 8601
end = "2025-07-10T15:00:00-04:00"
reason = "Globex outage"
ticket = "INC-4711"                   # our own key: datamgr does not know it

# gaps we looked at
[[acknowledged]]
ticker = "ES1"
start = "2024-03-12T10:00:00-04:00"
end = "2024-03-12T10:41:00-04:00"
missing = 42
note = "vendor outage"
acknowledged_at = "2026-11-22T03:10:00-05:00"
reviewed_by = "jd"                    # unknown key in an entry
"""


def test_acknowledging_keeps_comments_and_unknown_keys_of_the_overrides_file(settings):
    path = settings.overrides_path
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    res = acknowledge_gaps(settings, "ES1", [GAP], note="checked with the vendor")
    assert res.added == 1
    text = path.read_text(encoding="utf-8")
    for line in HAND_WRITTEN.splitlines():  # every line (comments, unknown keys) is still there, verbatim
        assert line in text.splitlines(), line
    raw, old = tomllib.loads(text), tomllib.loads(HAND_WRITTEN)
    assert raw["closed"] == old["closed"] and raw["acknowledged"][0] == old["acknowledged"][0]
    assert raw["acknowledged"][1]["note"] == "checked with the vendor"
    acks = load_overrides(path).acknowledged
    assert [(a.start, a.missing) for a in acks][-1] == (GAP[0].astimezone(dt.UTC), 7)
    assert path.with_name(path.name + ".bak").read_text(encoding="utf-8") == HAND_WRITTEN


def test_the_first_acknowledgement_creates_a_readable_file(settings):
    acknowledge_gaps(settings, "ES1", [GAP], note='vendor "outage" — ünïcode ok')
    [a] = load_overrides(settings.overrides_path).acknowledged
    assert a.note == 'vendor "outage" — ünïcode ok' and a.missing == 7


@pytest.mark.parametrize("note", ["two\nlines", "carriage\rreturn", "tab\there", "bell\x07", "nul\x00",
                                  "del\x7f", "c1\x85", "surrogate\ud800", "sep\u2028line"])
def test_a_note_with_a_control_character_is_refused_naming_the_field_and_nothing_changes(settings, note):
    settings.overrides_path.write_text(HAND_WRITTEN, encoding="utf-8")
    before = folder_hash(settings.data_dir)
    with pytest.raises(InputError, match=r"^note: character \d+ is U\+[0-9A-F]{4}") as err:
        acknowledge_gaps(settings, "ES1", [GAP], note=note)
    assert err.value.field == "note" and "Nothing was written" in str(err.value)
    assert folder_hash(settings.data_dir) == before
