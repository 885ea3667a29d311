"""The fast paths of an incremental regeneration: per-day JSON files spliced from their unchanged
leading rows (proven by the rows index), the master read from its first changed row group
(boundary fingerprints in the state), and every fallback when the proof does not hold."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamgr.core import layout
from datamgr.derived import levels, partial, profiler, rowsdoc, steps, web_chunks
from datamgr.derived import lineage as lin
from datamgr.derived.regenerate import regenerate
from datamgr.ops.demo import default_gaps, make_demo_bars
from datamgr.store import store as store_mod
from tests.derived.helpers import json_outputs, load, parquet_hashes

ROOT = Path(__file__).resolve().parents[2]
START, END = dt.date(2024, 1, 2), dt.date(2024, 3, 28)
STEPS = ("hod_lod", "profiler", "levels")


@pytest.fixture(scope="module")
def master() -> pl.DataFrame:
    return make_demo_bars(START, END, gaps=default_gaps(START, END))


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(store_mod, "ROW_GROUP", 5_000)
    monkeypatch.setattr(partial, "ROW_GROUP", 5_000)
    monkeypatch.setattr(steps, "ROW_GROUP", 5_000)


def before(bars: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return bars.filter(pl.col("datetime") < dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def corrected(bars: pl.DataFrame) -> pl.DataFrame:
    """The week's import also corrects one older bar (2024-02-06)."""
    return bars.with_columns(
        pl.when(pl.col("datetime") == dt.datetime(2024, 2, 6, 15, 0, tzinfo=dt.UTC))
        .then(pl.col("high") + 10).otherwise(pl.col("high")).alias("high"))


def spy(monkeypatch, module, name: str) -> list:
    seen, real = [], getattr(module, name)

    def wrapper(*a, **k):
        out = real(*a, **k)
        seen.append(out)
        return out

    monkeypatch.setattr(module, name, wrapper)
    return seen


def equals_full_rebuild(dsettings, dstore) -> None:
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash


def week_then_all(dsettings, dstore, master) -> None:
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    assert regenerate(dsettings, "ES1").ok
    dstore.write("ES1", "1m", corrected(master), operation="import")


# ---------------------------------------------------------------------- the text
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))


@settings(max_examples=60, deadline=None)
@given(head=st.dictionaries(st.text(max_size=5).filter(lambda k: k != "days"), _scalar, max_size=3),
       rows=st.lists(st.dictionaries(st.text(min_size=1, max_size=5).filter(lambda k: k != "date"),
                                     st.one_of(_scalar, st.lists(_scalar, max_size=3)), max_size=4), max_size=6),
       tail=st.dictionaries(st.text(max_size=5).filter(lambda k: k != "days"), _scalar, max_size=2),
       keep=st.integers(0, 6))
def test_assembled_text_is_json_dumps_and_the_offsets_are_the_rows(head, rows, tail, keep):
    rows = [{"date": f"2024-01-{i + 1:02d}", **r} for i, r in enumerate(rows)]
    tail = {k: v for k, v in tail.items() if k not in head}
    want = json.dumps({**head, "days": rows, **tail}, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode()
    whole = rowsdoc.assemble(head, b"", np.zeros(0, np.int64), rows, tail)
    assert whole.data == want
    assert [json.loads(whole.data[s:(whole.starts[i + 1] - 1 if i + 1 < len(rows) else whole.end)])
            for i, s in enumerate(whole.starts)] == rows
    # the same document from an already serialized prefix of rows (another head length)
    k = min(keep, len(rows))
    kept = whole.data[whole.starts[0]:whole.starts[k] - 1] if 0 < k < len(rows) else (
        whole.data[whole.starts[0]:whole.end] if k and k == len(rows) else b"")
    head2 = {**head, "x": "longer head"} if "x" not in tail else head
    again = rowsdoc.assemble(head2, kept, whole.starts[:k], rows[k:], tail)
    assert again.data == json.dumps({**head2, "days": rows, **tail}, ensure_ascii=False,
                                    separators=(",", ":"), allow_nan=False).encode()
    assert [again.data[s:s + 9] for s in again.starts] == [b'{"date":"'] * len(rows)


# ---------------------------------------------------------------------- splice
def test_a_week_import_splices_every_json_output_and_equals_a_full_rebuild(dsettings, dstore, master, monkeypatch):
    week_then_all(dsettings, dstore, master)
    opened = spy(monkeypatch, rowsdoc, "open_rows")
    spliced = spy(monkeypatch, rowsdoc, "splice")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and {s.mode for s in rep.steps} == {"incremental"}
    assert len(opened) == 3 and all(o is not None for o in opened) and len(spliced) == 3
    for step in STEPS:  # the index describes the new file
        assert rowsdoc.open_rows(lin.json_path(dsettings, "ES1", step),
                                 layout.rows_index_path(dsettings.data_dir, "ES1", step)) is not None
    prof = load(lin.json_path(dsettings, "ES1", "profiler"))
    assert prof["summary"] == profiler.summary(prof["days"], dsettings.instrument("ES1").sessions)
    equals_full_rebuild(dsettings, dstore)


def test_a_missing_rows_index_falls_back_to_parsing_the_file(dsettings, dstore, master, monkeypatch):
    week_then_all(dsettings, dstore, master)
    for step in STEPS:
        layout.rows_index_path(dsettings.data_dir, "ES1", step).unlink()
    spliced = spy(monkeypatch, rowsdoc, "splice")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and {s.mode for s in rep.steps} == {"incremental"} and spliced == []
    equals_full_rebuild(dsettings, dstore)


def test_a_hand_edited_json_file_is_parsed_not_spliced(dsettings, dstore, master, monkeypatch):
    week_then_all(dsettings, dstore, master)
    path = lin.json_path(dsettings, "ES1", "hod_lod")
    doc = load(path)
    doc["days"][0]["high"] = 123456789.25  # longer text: every recorded offset after it is off
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    opened = spy(monkeypatch, rowsdoc, "open_rows")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and rep.steps[1].mode == "incremental" and opened[0] is None
    got = load(path)  # the old rows as the file held them, the changed days recomputed
    assert got["days"][0]["high"] == 123456789.25
    regenerate(dsettings, "ES1", full=True)
    full = load(path)
    assert got["days"][1:] == full["days"][1:] and len(got["days"]) == len(full["days"])


def test_a_same_length_edit_is_caught_by_the_hash(dsettings, dstore, master, monkeypatch):
    week_then_all(dsettings, dstore, master)
    path = lin.json_path(dsettings, "ES1", "levels")
    data = path.read_bytes()
    i = data.index(b'"touched":true')
    path.write_bytes(data[:i] + b'"touched":null' + data[i + len(b'"touched":true'):])  # same length
    opened = spy(monkeypatch, rowsdoc, "open_rows")
    assert regenerate(dsettings, "ES1").ok and opened[2] is None
    got = load(path)  # the summary counts the rows the file now holds
    assert got["summary"] == levels.summary(got["days"])


def test_a_truncated_json_file_is_rebuilt_in_full(dsettings, dstore, master):
    week_then_all(dsettings, dstore, master)
    path = lin.json_path(dsettings, "ES1", "profiler")
    path.write_bytes(path.read_bytes()[:5000])
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and rep.steps[2].mode == "full" and rep.steps[1].mode == "incremental"
    equals_full_rebuild(dsettings, dstore)


def test_an_index_of_another_build_is_not_trusted(dsettings, dstore, master, monkeypatch):
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    idx = layout.rows_index_path(dsettings.data_dir, "ES1", "profiler")
    stale = idx.read_bytes()
    dstore.write("ES1", "1m", corrected(master), operation="import")
    regenerate(dsettings, "ES1")
    idx.write_bytes(stale)  # describes the previous file
    dstore.write("ES1", "1m", master, operation="import")  # undo the correction
    opened = spy(monkeypatch, rowsdoc, "open_rows")
    assert regenerate(dsettings, "ES1").ok and opened[1] is None
    equals_full_rebuild(dsettings, dstore)


# ---------------------------------------------------------------------- prepare
def test_the_master_is_read_from_the_first_changed_row_group(small_groups, dsettings, dstore, master, monkeypatch):
    week_then_all(dsettings, dstore, master)
    state = lin.load_state(dsettings, "ES1")
    assert state["heads"]  # boundary fingerprints of the master the outputs were built from
    tails = spy(monkeypatch, partial, "read_tail")
    more = spy(monkeypatch, partial, "read_groups")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and {s.mode for s in rep.steps} == {"incremental"} and rep.changed_days == 7
    (tail,) = tails
    assert tail.head is not None and tail.first_group == tail.changed_group
    assert more  # 2024-02-06 needs earlier row groups than the changed one: read on demand
    equals_full_rebuild(dsettings, dstore)


def test_a_week_appended_needs_only_the_changed_row_groups(small_groups, dsettings, dstore, master, monkeypatch):
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    dstore.write("ES1", "1m", master, operation="import")
    tails = spy(monkeypatch, partial, "read_tail")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and rep.changed_days == 6
    (tail,) = tails
    assert tail.head is not None and tail.bars.height < 3 * 5_000
    equals_full_rebuild(dsettings, dstore)


def test_boundary_fingerprints_add_up_to_the_day_fingerprints(small_groups, dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    state = lin.load_state(dsettings, "ES1")
    cal = lin.calendar_of(dsettings, "ES1")
    fp = lin.day_fingerprints(master, cal)
    assert len(state["heads"]) == (master.height - 1) // 5_000
    for g, (day, rows, h) in state["heads"].items():
        d = dt.date.fromisoformat(day)
        rest = lin.day_fingerprints(master.slice(int(g) * 5_000), cal).filter(pl.col("td") == d)
        whole = fp.filter(pl.col("td") == d)
        assert whole["rows"][0] == rows + (rest["rows"][0] if rest.height else 0)
        assert int(whole["hash"][0]) == (int(h, 16) + (int(rest["hash"][0]) if rest.height else 0)) % (1 << 64)


# ---------------------------------------------------------------------- early closes
@pytest.mark.parametrize("name", ["CME Globex Equity", "NYSE extended", "NYSE", "XNSE"])
def test_early_closes_from_the_session_cache_equal_the_schedule(tmp_path, name):
    from datamgr.calendar.sessions import get_calendar

    lo, hi = dt.date(2006, 1, 1), dt.date(2026, 12, 31)
    cached = get_calendar(name, data_dir=tmp_path).early_closes(lo, hi)
    built = get_calendar(name).sessions(lo, hi).select("trading_day", "early_close")
    assert cached.height > 4000 and cached["early_close"].sum() > 20
    assert cached.equals(built)


# ---------------------------------------------------------------------- web chunks
def test_the_latest_web_chunks_are_spliced_and_equal_a_full_rebuild(dsettings, dstore, master, monkeypatch):
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    dstore.write("ES1", "1m", master, operation="import")
    spliced = spy(monkeypatch, web_chunks, "splice_chunk")
    built = spy(monkeypatch, web_chunks, "build_chunks")
    assert regenerate(dsettings, "ES1").ok
    assert len(spliced) == 5 and all(c is not None for c in spliced) and built == []
    equals_full_rebuild(dsettings, dstore)


def test_a_correction_in_an_older_month_builds_that_chunk_and_splices_the_year(dsettings, dstore, master,
                                                                             monkeypatch):
    week_then_all(dsettings, dstore, master)  # + 2024-02-06 corrected
    spliced = spy(monkeypatch, web_chunks, "splice_chunk")
    built = spy(monkeypatch, web_chunks, "build_chunks")
    assert regenerate(dsettings, "ES1").ok
    assert [sorted(b) for b in built] == [["2024-02"]]  # 1m of February: no splice record kept
    assert all(c is not None for c in spliced)
    equals_full_rebuild(dsettings, dstore)


@pytest.mark.parametrize("damage", ["same-length edit", "truncated", "no records"])
def test_a_chunk_that_does_not_match_its_record_is_built_in_full(dsettings, dstore, master, monkeypatch, damage):
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    dstore.write("ES1", "1m", master, operation="import")
    chunk = dsettings.data_dir / "web" / "ES1" / "5m" / "2024.json"
    data = chunk.read_bytes()
    if damage == "same-length edit":
        i = data.index(b',"c":[') + 6
        chunk.write_bytes(data[:i] + (b"1" if data[i:i + 1] != b"1" else b"2") + data[i + 1:])
    elif damage == "truncated":
        chunk.write_bytes(data[:len(data) // 2])
    else:
        layout.web_splice_path(dsettings.data_dir, "ES1").unlink()
    spliced = spy(monkeypatch, web_chunks, "splice_chunk")
    assert regenerate(dsettings, "ES1").ok
    if damage == "no records":
        assert spliced == []
    else:
        assert sum(c is None for c in spliced) == 1
    equals_full_rebuild(dsettings, dstore)


def test_a_fresh_process_incremental_run_builds_no_schedule_and_imports_no_pandas(small_groups, dsettings, dstore,
                                                                                 master, monkeypatch):
    from datamgr.calendar import cache

    monkeypatch.setattr(cache, "_MEM", {})  # this folder's session cache files get written
    week_then_all(dsettings, dstore, master)
    code = ("import sys; from pathlib import Path; from datamgr.core.config import Settings; "
            "from datamgr.derived.regenerate import regenerate; "
            "from datamgr.derived import partial, steps; from datamgr.store import store; "
            "store.ROW_GROUP = partial.ROW_GROUP = steps.ROW_GROUP = 5000; "
            f"s = Settings.load(data_dir=Path({str(dsettings.data_dir)!r}), env={{}}); "
            "rep = regenerate(s, 'ES1'); "  # every step, the upsampled Parquet writes included
            "print(rep.ok, sorted({x.mode for x in rep.steps}), 'pandas_market_calendars' in sys.modules, "
            "'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout.split()
    assert out == ["True", "['incremental']", "False", "False"]


# ---------------------------------------------------------------------- a chain of random imports
@pytest.mark.parametrize("seed", [3, 8])
def test_a_chain_of_random_imports_stays_byte_identical_to_full_rebuilds(small_groups, tmp_path, master, seed):
    """Appends, corrections of random older bars, a shorter master restored: after each, the
    incremental folder equals a full rebuild of the same master in a second folder."""
    import random

    from datamgr.core.config import Settings
    from datamgr.store.store import Store

    rng = random.Random(seed)
    inc_s, full_s = (Settings.load(data_dir=tmp_path / n, env={}) for n in ("inc", "full"))
    inc, full = Store(inc_s), Store(full_s)
    days = sorted(master["datetime"].dt.date().unique().to_list())
    cur = before(master, days[40])
    versions = []
    for step in range(5):
        kind = rng.choice(["append", "correct", "shorter"]) if step else "append"
        if kind == "append":
            cur = before(master, days[min(len(days) - 1, 40 + 5 * (step + 1) + rng.randrange(5))])
        elif kind == "correct":
            when = cur["datetime"][rng.randrange(cur.height)]
            cur = cur.with_columns(pl.when(pl.col("datetime") == when).then(pl.col("high") + rng.randrange(1, 9))
                                   .otherwise(pl.col("high")).alias("high"))
        else:
            cur = cur.head(cur.height - rng.randrange(500, 3000))
        versions.append(kind)
        for folder in (inc, full):
            folder.write("ES1", "1m", cur, operation="import" if kind != "shorter" else "restore")
        rep = regenerate(inc_s, "ES1")
        assert rep.ok
        assert regenerate(full_s, "ES1", full=True).ok
        a, b = json_outputs(inc_s.data_dir), json_outputs(full_s.data_dir)
        assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), (versions, [k for k in a if a[k] != b.get(k)])
        assert parquet_hashes(inc) == parquet_hashes(full), versions


def test_a_state_without_boundary_fingerprints_reads_the_row_group_before(small_groups, dsettings, dstore, master,
                                                                          monkeypatch):
    week_then_all(dsettings, dstore, master)
    path = lin.state_path(dsettings, "ES1")
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["heads"] = None  # a state written before they were kept
    path.write_text(json.dumps(raw), encoding="utf-8")
    tails = spy(monkeypatch, partial, "read_tail")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and {s.mode for s in rep.steps} == {"incremental"} and rep.changed_days == 7
    (tail,) = tails
    assert tail.head is None and tail.first_group == tail.changed_group - 1
    assert lin.load_state(dsettings, "ES1")["heads"]  # kept again for the next run
    equals_full_rebuild(dsettings, dstore)
