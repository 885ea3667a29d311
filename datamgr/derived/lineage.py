"""Lineage of derived outputs: what each was built from, and which ones are stale.

Every derived output records ``built_from`` = ``Store.lineage(ticker, "1m")`` of the master it
was computed from (``file, generation, content_sha256, end``) and the ``params`` that shape it
(calendar and its overrides, session windows, algorithm version):

* upsampled Parquet files in their footer (``Store.write(..., built_from=...)``);
* JSON outputs in their leading ``meta`` object;
* web chunks in ``web/<T>/index.json``'s ``meta``.

An output is **stale** when it is missing, when its ``built_from`` differs from the current
master (generation or content hash), when its ``params`` differ from the current settings, when
(level touches) the daily file it used changed, or, for legacy files without lineage, when it is
older than the master by mtime ("Profiler data is older than Parquet data").

Incremental regeneration keeps a small state file ``<data>/.derived/<T>.json`` with one
fingerprint per trading day of the master it last saw (row count and a hash of the bars). The
days whose fingerprint changed are the only ones recomputed; an output may be updated
incrementally only if it was built from exactly the master that state describes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from datamgr import __version__
from datamgr.calendar.sessions import SessionCalendar, calendar_for
from datamgr.core import layout
from datamgr.core.config import Settings
from datamgr.core.timefmt import to_et_iso
from datamgr.derived.stale import (  # re-exported: the light half of the lineage
    ALGO_VERSION,
    JSON_NAMES,
    LABELS,
    STEPS,
    StaleOutput,
    footer_lineage,
    json_path,
    output_records,
    params,
    read_json_meta,
    read_meta,
    same_daily,
    same_master,
    stale_outputs,
    web_index,
)
from datamgr.store.atomic import atomic_write_bytes

__all__ = ["ALGO_VERSION", "JSON_NAMES", "LABELS", "STEPS", "StaleOutput", "calendar_of", "changed_days", "day_fingerprints", "footer_lineage", "json_path", "load_output", "load_state", "make_meta", "output_records", "params", "read_json_meta", "read_meta", "same_daily", "same_master", "save_state", "span_segments", "stale_outputs", "state_path", "web_index"]



def calendar_of(settings: Settings, ticker: str) -> SessionCalendar:
    """The instrument's calendar with the folder's overrides."""
    return calendar_for(settings, ticker)


def state_path(settings: Settings, ticker: str) -> Path:
    return layout.state_path(settings.data_dir, ticker)


def make_meta(ticker: str, built_from: dict, prm: dict, **extra: Any) -> dict[str, Any]:
    """The ``meta`` object every derived JSON file starts with."""
    return {"ticker": ticker, "built_from": built_from,
            "built_at": to_et_iso(dt.datetime.now(dt.UTC)), "datamgr_version": __version__,
            "params": prm, **extra}


# ---------------------------------------------------------------------- day fingerprints
def span_segments(bars: pl.DataFrame, cal: SessionCalendar) -> pl.DataFrame:
    """Calendar segments covering the bars (plus ten days either side)."""
    if bars.height == 0:
        return cal.segments(dt.date(2000, 1, 3), dt.date(2000, 1, 3)).head(0)
    lo, hi = bars["datetime"].min(), bars["datetime"].max()
    return cal.segments(lo.date() - dt.timedelta(days=10), hi.date() + dt.timedelta(days=10))


def day_fingerprints(bars: pl.DataFrame, cal: SessionCalendar, seg: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per trading day: ``rows`` and ``hash`` (UInt64) of the master's bars in its segments.

    Vectorised: one row hash per bar, a wrapping cumulative sum, and segment bounds found by
    ``searchsorted`` on the sorted timestamps.
    """
    schema = {"td": pl.Date, "rows": pl.Int64, "hash": pl.UInt64}
    if bars.height == 0:
        return pl.DataFrame(schema=schema)
    t = bars["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    h = bars.select("datetime", "open", "high", "low", "close", "volume").hash_rows().to_numpy()
    cs = np.concatenate([[np.uint64(0)], np.cumsum(h, dtype=np.uint64)])
    seg = span_segments(bars, cal) if seg is None else seg
    s = np.searchsorted(t, seg["start"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy(), "left")
    e = np.searchsorted(t, seg["end"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy(), "left")
    with np.errstate(over="ignore"):
        seg_hash = cs[e] - cs[s]
    out = (pl.DataFrame({"td": seg["trading_day"], "rows": e - s, "hash": seg_hash},
                        schema_overrides={"rows": pl.Int64, "hash": pl.UInt64})
           .group_by("td", maintain_order=True)
           .agg(pl.col("rows").sum(), pl.col("hash").sum()))
    return out.filter(pl.col("rows") > 0).sort("td")


def day_in_progress(cal: SessionCalendar, t_us: int) -> tuple[dt.date, pl.DataFrame] | None:
    """The trading day whose session is in progress (or next to open) at ``t_us`` (UTC epoch
    microseconds): the day of the first segment ending after it, with that day's segments."""
    when = dt.datetime.fromtimestamp(t_us // 1_000_000, dt.UTC).date()
    seg = cal.segments(when - dt.timedelta(days=5), when + dt.timedelta(days=10))
    en = seg["end"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    i = int(np.searchsorted(en, t_us, "right"))
    if i >= len(en):
        return None
    day = seg["trading_day"][i]
    return day, seg.filter(pl.col("trading_day") == day)


def boundary_heads(bars: pl.DataFrame, first_row: int, group_rows: int, n_rows: int, cal: SessionCalendar,
                   known: dict[str, list] | None = None) -> dict[str, list]:
    """Per row-group boundary ``g`` (the start of row group ``g >= 1``): the trading day ``D`` in
    progress at the boundary's last earlier bar and the fingerprint (``rows``, ``hash``) of D's
    bars before the boundary, as ``{"g": [D, rows, hex hash]}``.

    With it an incremental run reads the master from the first changed row group only: the days
    before D keep their fingerprints, D's is this part plus its bars from the boundary on
    (:meth:`datamgr.derived.steps.Ctx.open`). ``bars`` are the master's rows from ``first_row``
    on (``n_rows`` in all); a boundary whose day starts before ``first_row`` takes its entry from
    ``known`` (the previous state's, valid while the rows before it are unchanged) or has none.
    """
    out: dict[str, list] = {}
    if bars.height == 0:
        return out
    t = bars["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    for g in range(1, (n_rows - 1) // group_rows + 1):
        p = g * group_rows - first_row  # the boundary's index in ``bars``
        if p <= 0:  # before the rows at hand: unchanged since ``known`` was made
            if known and str(g) in known:
                out[str(g)] = known[str(g)]
            continue
        if p > bars.height:
            break
        found = day_in_progress(cal, int(t[p - 1]))
        if found is None:
            continue
        day, mine = found
        s = int(np.searchsorted(t, int(mine["start"].dt.replace_time_zone(None).cast(pl.Int64).min()), "left"))
        if s == 0 and first_row > 0:
            if known and str(g) in known:
                out[str(g)] = known[str(g)]
            continue  # the day may hold bars before the rows at hand
        part = day_fingerprints(bars.slice(s, p - s), cal, mine)
        row = part.filter(pl.col("td") == day)
        rows, h = (int(row["rows"][0]), int(row["hash"][0])) if row.height else (0, 0)
        out[str(g)] = [day.isoformat(), rows, f"{h:016x}"]
    return out


def changed_days(old: pl.DataFrame | None, new: pl.DataFrame) -> list[dt.date]:
    """Trading days whose fingerprint differs (added, removed or changed)."""
    if old is None:
        return new["td"].to_list()
    j = old.join(new, on="td", how="full", coalesce=True, suffix="_new")
    diff = j.filter((pl.col("rows").ne_missing(pl.col("rows_new")))
                    | (pl.col("hash").ne_missing(pl.col("hash_new"))))
    return sorted(diff["td"].to_list())


def load_state(settings: Settings, ticker: str) -> dict[str, Any] | None:
    """The fingerprint state (``built_from``, ``days`` frame), or None if absent or unusable."""
    p = state_path(settings, ticker)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        if raw.get("polars") != pl.__version__ or raw.get("algo") != ALGO_VERSION:
            return None  # row hashes are only stable within one polars version
        days = pl.DataFrame({"td": pl.Series(raw["dates"]).str.to_date(), "rows": raw["rows"],
                             "hash": pl.Series([int(x, 16) for x in raw["hashes"]], dtype=pl.UInt64)},
                            schema_overrides={"rows": pl.Int64})
        return {"built_from": raw["built_from"], "days": days, "row_groups": raw.get("row_groups"),
                "heads": raw.get("heads")}
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None


def save_state(settings: Settings, ticker: str, built_from: dict, days: pl.DataFrame,
               row_groups: list[str] | tuple[str, ...] | None = None, heads: dict[str, list] | None = None) -> None:
    """Write the fingerprint state atomically (regenerable bookkeeping, not listed by inventory).

    ``row_groups``: the master's row-group digests (footer), so the next incremental run can read
    only the row groups that changed (:mod:`datamgr.derived.partial`); ``heads``: their boundary
    fingerprints (:func:`boundary_heads`), so it need not read the row group before either."""

    obj = {"algo": ALGO_VERSION, "polars": pl.__version__, "built_from": built_from,
           "dates": days["td"].dt.strftime("%Y-%m-%d").to_list(), "rows": days["rows"].to_list(),
           "hashes": [f"{x:016x}" for x in days["hash"].to_list()],
           "row_groups": list(row_groups) if row_groups else None, "heads": heads or None}
    atomic_write_bytes(state_path(settings, ticker), json.dumps(obj, separators=(",", ":")).encode())


def load_output(settings: Settings, ticker: str, step: str) -> dict[str, Any] | None:
    """The whole JSON document of a derived output (``hod_lod``, ``profiler``, ``levels`` or
    ``web`` = the chunk index), or None when it does not exist or cannot be parsed."""
    p = web_index(settings, ticker) if step == "web" else json_path(settings, ticker, step)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
