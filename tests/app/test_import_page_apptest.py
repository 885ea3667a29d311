"""The Import page under AppTest, with the real MES export: verified on drop, best zone preselected,
"remember for MES1", the guarded plan's typed count, import through the background job."""

from __future__ import annotations

import re

import pytest
import tomlkit

from datamgr.core.config import Settings
from datamgr.ops.import_export import import_export
from datamgr.plots.imports import literal
from datamgr.store.store import Store
from tests.conftest import folder_hash

MES = "MES 09-25.Last.txt"
FLAG = re.compile(r"(^|\s)--[a-z]")


def _lines(real_data_dir) -> list[bytes]:
    return [ln for ln in (real_data_dir / MES).read_bytes().split(b"\r\n") if ln.strip()]


def _window(lines, a, b) -> bytes:
    return b"\r\n".join(lines[a:b]) + b"\r\n"


def _texts(at) -> list[str]:
    out = []
    for kind in ("error", "warning", "success", "info", "caption", "markdown"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [b.label for b in at.button]
    return out


def _no_flags(at) -> None:
    bad = [t for t in _texts(at) if FLAG.search(t)]
    assert not bad, f"the page speaks of CLI flags: {bad}"


def _drop(at, name: str, data: bytes):
    at.file_uploader(key="nt_uploads").set_value([(name, data, "text/plain")]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _key(at, prefix: str) -> str:
    """The key of the one widget whose key starts with ``prefix`` (keys end with the upload's id)."""
    keys = {w.key for kind in ("text_input", "selectbox", "button", "checkbox", "radio")
            for w in getattr(at, kind) if w.key and w.key.startswith(prefix)}
    assert len(keys) == 1, keys
    return keys.pop()


def _wait_job(at):
    fid = _key(at, "ticker:").split(":", 1)[1]
    j = at.session_state[f"job:import:{fid}"]
    assert j.wait(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return j


def test_a_dropped_export_is_verified_at_once_with_the_best_zone_and_imports(app_data, page_test, real_data_dir):
    lines = _lines(real_data_dir)
    at = _drop(page_test("ninjatrader_import").run(), MES, _window(lines, 0, len(lines)))
    assert at.text_input(key=_key(at, "ticker:")).value == "MES1"  # from the file name
    assert at.selectbox(key=_key(at, "tz:")).value == "UTC"  # decisive ranking: preselected
    assert any("Preselected the best fit: UTC (close stamps)" in c.value for c in at.caption)
    assert at.success[0].value == "SUCCESS: Data is aligned."
    assert any("placed in UTC (close stamps): 2025-06-12 00:00 ET" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New"] == f"{len(lines):,}" and metrics["Instrument (from name)"] == "MES1 09-25"
    _no_flags(at)
    assert not list(app_data.iterdir())  # dropping, verifying and planning wrote nothing
    imp = at.button(key=_key(at, "btn_import:"))
    assert not imp.disabled
    imp.click().run()
    _wait_job(at)
    assert any(s.value.startswith(f"Imported {literal(MES)}: {len(lines):,} new") for s in at.success)  # as typed
    assert Store(Settings.load(data_dir=app_data, env={})).read_meta("MES1", "1m").rows == len(lines)


def test_use_the_best_zone_then_remember_it_for_the_ticker(app_data, page_test, real_data_dir):
    lines = _lines(real_data_dir)
    at = _drop(page_test("ninjatrader_import").run(), MES, _window(lines, 0, 20_000))
    tz = _key(at, "tz:")
    at.selectbox(key=tz).set_value("America/Los_Angeles").run()  # MES1's configured zone: wrong for this file
    assert at.error[0].value.startswith("FAIL: the bars fit UTC")
    assert 'press "Use UTC (close stamps)"' in at.error[0].value
    _no_flags(at)
    assert at.button(key=_key(at, "btn_import:")).disabled
    at.button(key=_key(at, "use:")).click().run()
    assert at.selectbox(key=tz).value == "UTC" and at.success[0].value == "SUCCESS: Data is aligned."
    remember = at.button(key=_key(at, "remember:"))
    assert remember.label == "Remember UTC (close stamps) for MES1"
    assert not (app_data.parent / "datamgr.toml").exists()  # never remembered silently
    remember.click().run()
    assert not at.exception, [e.value for e in at.exception]
    doc = tomlkit.parse((app_data.parent / "datamgr.toml").read_text())
    assert doc["instruments"]["MES1"]["import_tz"] == "UTC"
    assert any("Remembered UTC (close stamps) for MES1" in s.value for s in at.success)
    assert not [b for b in at.button if b.label.startswith("Remember")]  # now the configured zone
    assert Settings.load(data_dir=app_data, env={}).instrument("MES1").import_tz == "UTC"


@pytest.mark.parametrize("typo", ["1", "no"])
def test_a_guarded_plan_needs_the_typed_count_before_import(app_data, page_test, real_data_dir, typo):
    lines = _lines(real_data_dir)
    s = Settings.load(data_dir=app_data, env={})
    import_export(s, "MES1", _window(lines, 0, 20_000), "seed.txt", tz="UTC", no_derived=True)
    at = _drop(page_test("ninjatrader_import").run(), MES, _window(lines, 10_000, 30_000))
    assert at.success[0].value == "SUCCESS: Data is aligned." and not at.warning  # right zone: no guard
    at.selectbox(key=_key(at, "tz:")).set_value("America/Chicago").run()
    at.checkbox(key=_key(at, "override:")).check().run()
    warn = at.warning[0].value
    count = int(re.search(r"This plan changes ([\d,]+) existing bar", warn).group(1).replace(",", ""))
    assert count > 0 and "best whole-minute shift" in warn and f"type {count} to confirm" in warn
    chart = at.get("plotly_chart")
    assert any('existing minute(s) change' in c.proto.spec and 'replaced' in c.proto.spec for c in chart)
    _no_flags(at)
    imp = _key(at, "btn_import:")
    assert at.button(key=imp).disabled
    before = folder_hash(app_data)
    at.text_input(key=_key(at, "confirm:")).input(typo).run()
    assert at.button(key=imp).disabled and folder_hash(app_data) == before
    at.text_input(key=_key(at, "confirm:")).input(f"{count:,}").run()
    assert not at.button(key=imp).disabled
    at.button(key=imp).click().run()
    j = _wait_job(at)
    assert j.state == "done" and j.result.written
    assert j.result.plan.replaced + j.result.plan.removed == count
