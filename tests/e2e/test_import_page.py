"""Drag a real NinjaTrader export onto the Import page: verified on drop, remember the zone, a guarded
wrong-zone plan needs the typed count, import, and see the inventory change."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from datamgr.core.config import Settings
from datamgr.ops.import_export import import_export
from datamgr.store.store import Store

pytestmark = pytest.mark.e2e
WAIT = 30_000  # the machine may be busy: wait on conditions, generously

_DROP_JS = """
([b64, name, sel]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type: 'text/plain'}));
  const zone = document.querySelector(sel);
  for (const type of ['dragenter', 'dragover', 'drop']) {
    zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
  }
}
"""


def _idle(page) -> None:
    """Wait until the script run started by the last action has finished (no running indicator)."""
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=WAIT)


def _pick(page, label: str, option: str) -> None:
    """Open a selectbox and pick ``option``. A rerun that lands while the list is open closes it or
    detaches the option under the pointer, so the pick is tried again until the box shows the option
    (each step waits on a condition, never a sleep)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    for _ in range(8):
        _idle(page)
        try:
            box.click(timeout=5_000)
            page.get_by_role("option", name=option).click(timeout=5_000)
            return  # the caller waits for what the new zone shows
        except (AssertionError, PlaywrightTimeout):
            page.keyboard.press("Escape")
    raise AssertionError(f"the {label!r} list never took {option!r}")


def test_drag_and_drop_real_export_verify_import_and_inventory_row_count_changes(app_factory, page, tmp_path,
                                                                                   real_data_dir):
    src = real_data_dir / "MES 09-25.Last.txt"
    data = src.read_bytes()
    folder = tmp_path / "data"
    folder.mkdir()
    s = Settings.load(data_dir=folder, env={})
    # a master holding the first 10 000 lines, so the import both adds bars and overlaps
    head = b"\r\n".join(data.split(b"\r\n")[:10_000]) + b"\r\n"
    import_export(s, "MES1", head, "seed.txt", tz="UTC", no_derived=True)
    assert Store(s).read_meta("MES1", "1m").rows == 10_000
    total = len([ln for ln in data.splitlines() if ln.strip()])

    app = app_factory(folder)
    page.goto(app.url)
    expect(page.get_by_text("10,000").first).to_be_visible(timeout=WAIT)
    page.get_by_role("link", name="NinjaTrader import").click()
    expect(page.get_by_role("heading", name="NinjaTrader import")).to_be_visible(timeout=WAIT)
    expect(page.locator('[data-testid="stFileUploaderDropzone"]')).to_be_visible(timeout=WAIT)
    page.evaluate(_DROP_JS, [base64.b64encode(data).decode(), src.name,
                             '[data-testid="stFileUploaderDropzone"]'])
    expect(page.get_by_role("heading", name=src.name)).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("nt8-minute")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(f"{total:,}").first).to_be_visible(timeout=WAIT)

    # verified on drop: the decisive best zone (UTC, close stamps) is preselected over MES1's configured one
    expect(page.get_by_text("SUCCESS: Data is aligned.")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Preselected the best fit: UTC (close stamps)")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Overlap with the master: 10,000 bars")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(f"{total - 10_000:,}").first).to_be_visible(timeout=WAIT)  # the plan's new bars
    assert Store(s).read_meta("MES1", "1m").rows == 10_000  # verify and plan wrote nothing

    # remember the zone for MES1 (an explicit button; nothing is remembered before)
    assert not (tmp_path / "datamgr.toml").exists()
    page.get_by_role("button", name="Remember UTC (close stamps) for MES1").click()
    expect(page.get_by_text("Remembered UTC (close stamps) for MES1")).to_be_visible(timeout=WAIT)
    assert 'import_tz = "UTC"' in (tmp_path / "datamgr.toml").read_text()

    # a wrong zone, imported despite the FAIL verdict, is a guarded plan: the typed count is needed
    _pick(page, "Export time zone", "America/Chicago")
    expect(page.get_by_text("FAIL: the bars fit UTC")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text('press "Use UTC (close stamps)"')).to_be_visible(timeout=WAIT)
    importer = page.get_by_role("button", name="Import", exact=True)
    expect(importer).to_be_disabled(timeout=WAIT)
    page.get_by_text("Import despite a FAIL verdict").click()
    warning = page.get_by_text("This plan changes")
    expect(warning).to_be_visible(timeout=WAIT)
    count = int(re.search(r"This plan changes ([\d,]+)", warning.inner_text()).group(1).replace(",", ""))
    expect(page.get_by_text("existing minute(s) change")).to_be_visible(timeout=WAIT)  # the plan chart
    expect(importer).to_be_disabled(timeout=WAIT)
    box = page.get_by_label(f"Type {count} to confirm")
    box.fill("12")
    box.press("Enter")
    expect(importer).to_be_disabled(timeout=WAIT)
    box.fill(str(count))
    box.press("Enter")
    expect(importer).to_be_enabled(timeout=WAIT)
    assert Store(s).read_meta("MES1", "1m").rows == 10_000

    # back to the right zone: no guard, import
    page.get_by_role("button", name="Use UTC (close stamps)").click()
    expect(page.get_by_text("SUCCESS: Data is aligned.")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("This plan changes")).to_have_count(0, timeout=WAIT)
    expect(importer).to_be_enabled(timeout=WAIT)
    importer.click()
    expect(page.get_by_text(f"Imported {src.name}").first).to_be_visible(timeout=60_000)
    assert Store(s).read_meta("MES1", "1m").rows == total
    assert list((folder / "backups").glob("MES1_1m.*.parquet"))

    page.get_by_role("link", name="Inventory").click()
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_contain_text("MES1_1m.parquet")
    expect(grid).to_contain_text(f"{total:,}")  # the rows column
