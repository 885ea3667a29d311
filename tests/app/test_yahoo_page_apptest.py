"""The Yahoo update page under AppTest: banner, file review with quarantined bars, merge."""

from __future__ import annotations

import polars as pl

from datamgr.core.config import Settings
from datamgr.store.store import Store
from tests.ingest.yahoo_builders import SPLIT, master_and_yahoo, plant, yf_csv


def _wait(at, key: str) -> None:
    j = at.session_state[f"job:{key}"]
    assert j.wait(60)


def test_yahoo_page_says_auto_update_is_suspended_and_offers_a_manual_fetch(app_data, page_test):
    at = page_test("yahoo_update").run()
    assert not at.exception
    assert at.title[0].value == "Yahoo update"
    assert "auto-update is suspended" in at.warning[0].value and "NinjaTrader import" in at.warning[0].value
    assert "Fetch and validate" in [b.label for b in at.button]
    assert not list(app_data.iterdir())  # opening the page wrote nothing


def test_yahoo_page_reviews_a_saved_file_marks_quarantined_bars_and_merges(app_data, page_test, tmp_path):
    s = Settings.load(data_dir=app_data, env={})
    master, yahoo = master_and_yahoo()
    Store(s).write("ES1", "1m", master, operation="test")
    bad, spots = plant(yahoo)
    data = yf_csv(bad.filter(pl.col("datetime") < pl.lit(SPLIT) + pl.duration(days=2)), tmp_path / "es.csv").read_bytes()

    at = page_test("yahoo_update").run()
    at.file_uploader(key="yahoo_upload").set_value(("es.csv", data, "text/csv")).run()
    at.button(key="yahoo_validate_file").click().run()
    _wait(at, "yahoo:review")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quarantined"] == str(len(spots))  # every planted bad candle
    assert int(metrics["New"].replace(",", "")) > 0
    reasons = at.dataframe[0].value["reason"].tolist()
    assert any("spike" in r for r in reasons) and any("disagrees with ninjatrader" in r for r in reasons)
    chart = at.get("plotly_chart")[0]
    assert '"quarantined"' in chart.proto.spec
    assert Store(s).read_meta("ES1", "1m").rows == master.height  # the review wrote nothing

    at.button(key="yahoo_merge").click().run()
    _wait(at, "yahoo:merge")
    at.run()
    assert not at.exception
    assert any("Merged" in x.value for x in at.success)
    rows = Store(s).read_meta("ES1", "1m").rows
    assert rows == master.height + int(metrics["New"].replace(",", ""))
    assert len(list((app_data / "quarantine").glob("ES1_1m.*.parquet"))) == 1
    assert at.button(key="yahoo_merge").disabled
