"""Display tables: one time style, no None/NaN cells, numbers kept exact."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from datamgr.core.timefmt import fmt_time
from datamgr.plots.tables import display_frame


def test_times_become_minutes_in_et_and_missing_values_a_dash():
    df = pd.DataFrame({
        "when": pd.to_datetime(["2025-07-14T04:36:59.580677Z", None], utc=True),
        "iso": ["2025-11-20T16:58:21.580677-05:00", None],
        "price": [4848.25, float("nan")],
        "rows": [30306, 7],
        "note": [None, "x"],
        "details": [{"tz": "UTC", "at": "2025-07-14T04:36:00+00:00"}, {}],
    })
    out = display_frame(df, "America/New_York")
    assert out["when"].tolist() == ["2025-07-14 00:36 ET", "—"]
    assert out["iso"].tolist() == ["2025-11-20 16:58 ET", "—"]
    assert out["price"].tolist() == ["4848.25", "—"]          # exact, never rounded
    assert out["rows"].tolist() == [30306, 7]                  # no missing value: stays numeric
    assert out["note"].tolist() == ["—", "x"]
    assert out["details"].tolist() == ["tz: UTC, at: 2025-07-14 00:36 ET", "—"]
    assert "None" not in out.astype(str).to_numpy().ravel().tolist()


def test_fmt_time_names_the_zone_and_shows_seconds_only_when_asked():
    t = dt.datetime(2025, 7, 14, 20, 58, 21, 580677, tzinfo=dt.UTC)
    assert fmt_time(t) == "2025-07-14 16:58 ET"
    assert fmt_time(t, seconds=True, date=False) == "16:58:21 ET"
    assert fmt_time(t, "UTC") == "2025-07-14 20:58 UTC"
    assert fmt_time(t, "America/Chicago") == "2025-07-14 15:58 CT"
    assert fmt_time(dt.datetime(2025, 7, 14, 20, 58)) == "2025-07-14 16:58 ET"  # naive = UTC
    assert fmt_time(None) == "—" and fmt_time(dt.date(2025, 7, 14)) == "2025-07-14"
