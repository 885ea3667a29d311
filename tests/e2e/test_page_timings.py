"""Browser: how long Inventory and Health take to render, first and on a rerun, reported not asserted.

The measurement is benchmarks/bench_pages.py's (the same functions): a real server on its own
warm-up folder, fresh copies of a demo folder switched to with the sidebar's data-folder field,
then a longer master for Health. The figures (browser wall seconds and the server's CPU seconds)
are written to ``page_timings.json`` in the test's tmp folder and shown in the terminal summary
("datamgr figures"). What is asserted is behaviour, not speed: every page was drawn, and a rerun
on unchanged files made the server compute no answer at all (its log names each computed answer).

``DATAMGR_E2E_MASTER_YEARS`` sets the years of the longer master (default 2; 18 is the issue's
figure, about 20 s more to build).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import pytest

from benchmarks.bench_pages import Probe, measure, report
from datamgr.core.config import Settings
from datamgr.ops.demo import make_demo_bars, write_demo
from datamgr.ops.inventory import scan
from datamgr.store.store import Store
from tests.conftest import FIGURES

pytestmark = pytest.mark.e2e

END = dt.date(2025, 11, 20)
#: answers keyed by the minute of the wall clock (renewed when a step straddles a minute boundary)
CLOCK_KEYED = {"inventory", "inventory_view", "health_now", "health_view"}


def test_page_render_timings_are_measured_and_reruns_compute_nothing(app_factory, browser, tmp_path,
                                                                      record_property):
    template = tmp_path / "template"
    template.mkdir()
    write_demo(Settings.load(data_dir=template, env={}), "ES1", end=END)
    warm = shutil.copytree(template, tmp_path / "data")  # the server's own folder (the warm-up)
    demos = [shutil.copytree(template, tmp_path / f"demo{i}") for i in (1, 2)]
    years = int(os.environ.get("DATAMGR_E2E_MASTER_YEARS", "2"))
    big = tmp_path / "big"
    big.mkdir()
    s = Settings.load(data_dir=big, env={})
    Store(s).write("ES1", "1m", make_demo_bars(dt.date(2025 - years + 1, 1, 2), dt.date(2025, 12, 31), seed=2008,
                                               source="ninjatrader"), operation="test", backup=False)
    scan(s)  # as after one status: session calendar and coverage cached on disk
    rows = Store(s).read_meta("ES1", "1m").rows

    app = app_factory(warm)
    fig = measure(browser, app.url, demos, big, Probe(app.proc.pid, tmp_path / "streamlit.log"))

    out = tmp_path / "page_timings.json"
    out.write_text(json.dumps({**fig, "big_rows": rows}, indent=2), encoding="utf-8")
    text = report(fig, big_rows=rows) + f"\n  figures: {out}"
    print(text)
    record_property(FIGURES, text)

    def computed(step: dict) -> list[str]:
        """The answers a step computed, less those keyed by the minute when the minute changed
        during the step (the inventory's "behind" flag, Health's staleness follow the clock)."""
        return [k for k in step["computed"] if not (step["minute_changed"] and k in CLOCK_KEYED)]

    for sample in fig["samples"]:
        # the first render of a fresh folder computes its answers; the rerun and the page shown
        # again compute none; a new filter asks one new question (the gap selection), not a report
        assert {"inventory", "inventory_view"} <= set(sample["inventory_first"]["computed"])
        assert {"health", "health_view"} <= set(sample["health_first"]["computed"])
        assert computed(sample["inventory_rerun"]) == []
        assert computed(sample["health_rerun"]) == []
        assert computed(sample["inventory_again"]) == []
        assert computed(sample["health_filter"]) == ["gaps"]
        assert all(sample[k]["wall"] > 0 for k in ("inventory_first", "health_first", "health_rerun"))
    assert "health" in fig["big"]["health_first"]["computed"]
    assert computed(fig["big"]["health_rerun"]) == []
