"""ImportDraft: parse once, read the master once, the plan chart zoomed to the changed minutes,
the file name's instrument and contract, and page wording without CLI flags."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.core.config import Settings
from datamgr.ingest import draft as draft_mod
from datamgr.ingest.draft import ImportDraft, guess_ticker, name_hint
from datamgr.ops.import_export import import_export
from datamgr.plots.imports import page_text, plan_figure
from datamgr.store import store as store_mod

MES = "MES 09-25.Last.txt"


def _window(real_data_dir, a, b) -> bytes:
    lines = [ln for ln in (real_data_dir / MES).read_bytes().split(b"\r\n") if ln.strip()]
    return b"\r\n".join(lines[a:b]) + b"\r\n"


def test_a_page_sequence_parses_the_bytes_once_and_reads_the_master_once(real_data_dir, settings, monkeypatch):
    import_export(settings, "MES1", _window(real_data_dir, 0, 5_000), "seed.txt", tz="UTC", no_derived=True)
    parses, reads = [], []
    real_parse, real_read = draft_mod.parse_export, store_mod.Store.read
    monkeypatch.setattr(draft_mod, "parse_export", lambda *a, **k: parses.append(1) or real_parse(*a, **k))
    monkeypatch.setattr(store_mod.Store, "read", lambda self, *a: reads.append(a) or real_read(self, *a))
    d = ImportDraft(settings, _window(real_data_dir, 4_000, 9_000), MES)
    for _ in range(2):  # a rerun of the page asks again: answered from the draft
        d.describe("MES1", "UTC", "close")
        rep = d.verify("MES1", "UTC", "close")
        d.overlap("MES1", "UTC", "close")
        plan = d.plan("MES1", "UTC", "close")
    assert len(parses) == 1 and len(reads) == 1
    assert rep.ok and plan.merge.identical == 1_000 and plan.merge.new == 4_000 and not plan.guard.required


def test_the_plan_chart_is_zoomed_to_the_replaced_minutes(real_data_dir, settings):
    import_export(settings, "MES1", _window(real_data_dir, 0, 6_000), "seed.txt", tz="UTC", no_derived=True)
    lines = _window(real_data_dir, 0, 6_000).split(b"\r\n")[:-1]
    fixed = []
    for i, ln in enumerate(lines):  # correct 100 consecutive minutes in the middle: highs + 1 point
        f = ln.split(b";")
        if 3_000 <= i < 3_100:
            f[2] = str(float(f[2]) + 1).encode()
        fixed.append(b";".join(f))
    d = ImportDraft(settings, b"\r\n".join(fixed) + b"\r\n", "fix.txt")
    plan = d.plan("MES1", "UTC", "close")
    assert plan.merge.replaced == 100 and plan.guard.required and plan.guard.count == 100
    frame = d.changed_frame(plan, pad_minutes=30)
    changed = frame.filter(pl.col("changed"))
    assert changed.height == 100
    span = frame["datetime"].max() - frame["datetime"].min()
    assert span <= changed["datetime"].max() - changed["datetime"].min() + dt.timedelta(minutes=60)
    fig = plan_figure(frame)
    assert list(fig.layout.xaxis.range) == [frame["datetime"].min(), frame["datetime"].max()]
    assert "100 existing minute(s) change" in fig.layout.title.text


@pytest.mark.parametrize(("name", "root", "contract", "ticker"), [
    ("MES 09-25.Last.txt", "MES", "09-25", "MES1"),
    ("ES 03-24.Last.txt", "ES", "03-24", "ES1"),
    ("ES Monday.csv", "ES", None, "ES1"),
    ("ZZZ 12-25.Last.txt", "ZZZ", "12-25", None),
    ("2025 export.txt", None, None, None),
])
def test_the_file_name_tells_instrument_root_and_contract_month(name, root, contract, ticker):
    assert name_hint(name) == (root, contract)
    assert guess_ticker(name, Settings()) == ticker


def test_page_wording_names_buttons_never_cli_flags():
    msg = ('FAIL: the bars fit UTC with close stamps (score 0.981), not the given America/Los_Angeles with close '
           'stamps (score 0.897); re-run with --tz "UTC" --stamp close.')
    assert page_text(msg).endswith('press "Use UTC (close stamps)".')
    assert "--" not in page_text("x. Nothing was imported; re-run with --yes to confirm (12 bars change).")
    assert "type 12 below" in page_text("Nothing was imported; confirm with confirm=12.")
    assert "--" not in page_text("import with --force, --strict or --replace")


def test_a_remembered_file_next_to_the_data_folder_is_found_and_an_explicit_config_wins(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "datamgr.toml").write_text('[instruments.MES1]\nimport_tz = "UTC"\nimport_stamp = "open"\n')
    s = Settings.load(data_dir=tmp_path / "data", env={})
    assert s.instrument("MES1").import_tz == "UTC" and s.instrument("MES1").import_stamp == "open"
    assert s.config_path == tmp_path / "datamgr.toml"
    other = tmp_path / "other.toml"
    other.write_text("")
    assert Settings.load(data_dir=tmp_path / "data", config=other, env={}).instrument("MES1").import_tz == (
        "America/Los_Angeles")


def test_import_remember_stores_the_zone_only_after_success(real_data_dir, tmp_path):
    (tmp_path / "data").mkdir()
    s = Settings.load(data_dir=tmp_path / "data", env={})
    res = import_export(s, "MES1", _window(real_data_dir, 0, 20_000), MES, tz="UTC", remember=True, no_derived=True)
    assert res.remembered is not None and res.to_json()["remembered"]["tz"] == "UTC"
    assert Settings.load(data_dir=tmp_path / "data", env={}).instrument("MES1").import_tz == "UTC"
