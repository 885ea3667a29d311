"""The regenerate steps (full or incremental) over one shared context. See ``regenerate.py``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core import layout
from datamgr.core.config import INTRADAY_DERIVED, Settings
from datamgr.derived import hod_lod, levels, partial, profiler, rowsdoc, web_chunks
from datamgr.derived import lineage as lin
from datamgr.derived.resample import label_minutes, upsample_all
from datamgr.store.store import ROW_GROUP, Store

_US = pl.Datetime("us", "UTC")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
log = logging.getLogger(__name__)


@dataclass
class OutputResult:
    """One file written (or found unchanged) by a step."""

    path: str
    rows: int
    seconds: float
    written: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "seconds": round(self.seconds, 3), "written": self.written}


@dataclass
class Ctx:
    """Everything the steps share: the master read once, fingerprints, labelled bars (cached)."""

    settings: Settings
    ticker: str
    store: Store
    cal: SessionCalendar
    prm: dict[str, Any]
    bars: pl.DataFrame
    master: dict[str, Any]
    fp: pl.DataFrame
    state: dict[str, Any] | None
    changed: list[dt.date] | None
    full: bool
    seg: pl.DataFrame | None = None
    cdays: np.ndarray = field(default_factory=lambda: np.array([], "datetime64[D]"))
    outside: int = 0
    ups: dict[str, pl.DataFrame] = field(default_factory=dict)  # full-mode upsampled (with td)
    _lab: pl.DataFrame | None = None
    _ext: pl.DataFrame | None = None
    _near: tuple[set[dt.date], pl.DataFrame] | None = None  # labelled bars around the changed days
    note: Any = None  # callable(message) for progress within a step
    _t: np.ndarray | None = None
    digests: tuple[str, ...] | None = None  # the master's row-group digests (footer, verified)
    partial: bool = False  # ``bars`` is the master's changed tail only (:mod:`datamgr.derived.partial`)
    #: incremental upsample: per timeframe, (row groups kept, the rows written after them)
    rest: dict[str, tuple[int, pl.DataFrame]] = field(default_factory=dict)
    first_row: int = 0  # index in the master of ``bars``' first row
    meta: Any = None  # the master's footer (partial reads)

    @classmethod
    def open(cls, settings: Settings, ticker: str, store: Store, *, full: bool) -> Ctx:
        cal = lin.calendar_of(settings, ticker)
        meta = store.read_meta(ticker, "1m")
        digests = partial.trusted_digests(meta) if meta is not None else None
        state = None if full else lin.load_state(settings, ticker)
        if state is not None and digests is not None:
            ctx = cls._open_tail(settings, ticker, store, cal, state, meta, digests)
            if ctx is not None:
                return ctx
        ctx = cls._open_all(settings, ticker, store, cal, full=full)
        ctx.digests = digests
        ctx.meta = meta if digests is not None else None
        return ctx

    @classmethod
    def _open_tail(cls, settings: Settings, ticker: str, store: Store, cal: SessionCalendar, state: dict,
                   meta, digests: tuple[str, ...]) -> Ctx | None:
        """Incremental context from the master's changed row groups only; None when that cannot
        be proven sufficient (:func:`datamgr.derived.partial.read_tail`).

        ``D`` is the trading day in progress at the last bar before the first changed row group:
        days before D keep the state's fingerprints (all their bars lie in unchanged row groups),
        D and later days are fingerprinted again, D from its first bar (read from the row group
        before, or summarised by the state's boundary fingerprint, ``Tail.head``)."""
        tail = partial.read_tail(store.path(ticker, "1m"), meta, state)
        if tail is None or tail.bars.height == 0:
            return None
        bars = tail.bars
        old = state["days"]
        t = bars["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        p = (tail.changed_group - tail.first_group) * ROW_GROUP  # first changed row, in ``bars``
        if tail.head is not None:
            day, head_rows, head_hash = tail.head
            d_start = None
        elif 0 < p <= bars.height:
            found = lin.day_in_progress(cal, int(t[p - 1]))
            if found is None:
                return None
            day, mine = found
            d_start = int(mine["start"].dt.replace_time_zone(None).cast(pl.Int64).min())
            if t[0] >= d_start and tail.first_row > 0 and (
                    tail.earlier_max is None
                    or (tail.earlier_max - _EPOCH) // dt.timedelta(microseconds=1) >= d_start):
                return None  # the day may hold bars before the rows read
        else:
            return None
        lo = min(bars["datetime"].min().date(), day) - dt.timedelta(days=10)
        hi = bars["datetime"].max().date() + dt.timedelta(days=10)
        seg = cal.segments(lo, hi)
        s0 = int(np.searchsorted(t, d_start, "left")) if d_start is not None else 0
        fp_tail = lin.day_fingerprints(bars.slice(s0), cal, seg.filter(pl.col("trading_day") >= day))
        if tail.head is not None and head_rows:
            own = fp_tail.filter(pl.col("td") == day)
            r0, h0 = (int(own["rows"][0]), int(own["hash"][0])) if own.height else (0, 0)
            fixed = pl.DataFrame({"td": [day], "rows": [r0 + head_rows], "hash": [(h0 + head_hash) % (1 << 64)]},
                                 schema={"td": pl.Date, "rows": pl.Int64, "hash": pl.UInt64})
            fp_tail = pl.concat([fp_tail.filter(pl.col("td") != day), fixed]).sort("td")
        fp = pl.concat([old.filter(pl.col("td") < day), fp_tail]).sort("td")
        changed = lin.changed_days(old, fp)
        if changed:
            lo = min(lo, dt.date(min(changed).year, 1, 1) - dt.timedelta(days=10))
            hi = max(hi, max(changed) + dt.timedelta(days=10))
            seg = cal.segments(lo, hi)
        ctx = cls(settings, ticker, store, cal, lin.params(settings, ticker, cal), bars, store.lineage(ticker, "1m"),
                  fp, state, changed, False, seg, digests=digests, partial=True)
        ctx.first_row, ctx.meta = tail.first_row, meta
        ctx.cdays = seg["trading_day"].unique().sort().to_numpy().astype("datetime64[D]")
        return ctx

    @classmethod
    def _open_all(cls, settings: Settings, ticker: str, store: Store, cal: SessionCalendar, *, full: bool) -> Ctx:
        bars = store.read(ticker, "1m")
        master = store.lineage(ticker, "1m")
        seg = lin.span_segments(bars, cal)
        fp = lin.day_fingerprints(bars, cal, seg)
        state = None if full else lin.load_state(settings, ticker)
        changed = lin.changed_days(state["days"], fp) if state else None
        if changed and (seg.height == 0 or min(changed) < seg["trading_day"].min()
                        or max(changed) > seg["trading_day"].max()):
            # days that left the master (a shorter file restored): cover them too, so their
            # old rows, chunks and next-day levels are found and removed
            lo = min([*changed, *([seg["trading_day"].min()] if seg.height else [])])
            hi = max([*changed, *([seg["trading_day"].max()] if seg.height else [])])
            seg = cal.segments(lo - dt.timedelta(days=10), hi + dt.timedelta(days=10))
        ctx = cls(settings, ticker, store, cal, lin.params(settings, ticker, cal), bars, master, fp,
                  state, changed, full, seg)
        if seg.height:
            ctx.cdays = seg["trading_day"].unique().sort().to_numpy().astype("datetime64[D]")
        return ctx

    # ------------------------------------------------------------------ labelled bars
    def lab_all(self) -> pl.DataFrame:
        if self.partial:  # a step rebuilds in full (e.g. a missing output): it needs every bar
            self.bars = self.store.read(self.ticker, "1m")
            self.seg = lin.span_segments(self.bars, self.cal) if not self.changed else self.cal.segments(
                min(self.bars["datetime"].min().date(), *self.changed) - dt.timedelta(days=10),
                max(self.bars["datetime"].max().date(), *self.changed) + dt.timedelta(days=10))
            self.cdays = self.seg["trading_day"].unique().sort().to_numpy().astype("datetime64[D]")
            self._t, self.partial, self.first_row, self._near = None, False, 0, None
        if self._lab is None:
            lb = label_minutes(self.bars, self.cal, self.seg)
            self._lab, self.outside = lb.frame, lb.outside
        return self._lab

    def _cover(self, day: dt.date) -> None:
        """Make ``bars`` (a partial read) hold every bar from ``day``'s first segment on, reading
        earlier row groups when their statistics say they may hold such bars."""
        if not self.partial or self.first_row == 0:
            return
        seg = self.seg.filter(pl.col("trading_day") >= day)
        if seg.height == 0 or day < self.seg["trading_day"].min():
            self.lab_all()  # outside the segments at hand: read everything
            return
        start = seg["start"].min()
        path = self.store.path(self.ticker, "1m")
        group = self.first_row // ROW_GROUP
        while group > 0:
            mx = partial.group_max(path, group - 1)
            if mx is not None and mx < start:
                break
            group -= 1
        if group == self.first_row // ROW_GROUP:
            return
        more = partial.read_groups(path, self.meta, group, self.first_row // ROW_GROUP)
        if more is None:
            self.lab_all()
            return
        self.bars = pl.concat([more, self.bars])
        self.first_row, self._t, self._near = group * ROW_GROUP, None, None

    def heads(self) -> dict[str, list] | None:
        """The master's row-group boundary fingerprints for the state (:func:`lineage.boundary_heads`);
        None when unknown (the next incremental run then reads one row group more)."""
        if self.meta is None or self.digests is None:
            return None
        try:
            return lin.boundary_heads(self.bars, self.first_row, ROW_GROUP, sum(self.meta.row_group_rows), self.cal,
                                      (self.state or {}).get("heads") if self.partial else None)
        except (ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as err:
            log.warning("%s: row-group boundary fingerprints not kept (%s)", self.ticker, err)
            return None

    def say(self, message: str) -> None:
        if self.note is not None:
            self.note(message)

    def extremes(self, lab: pl.DataFrame) -> pl.DataFrame:
        """Day extremes of ``lab`` (cached for the full labelled master)."""
        if lab is self._lab:
            if self._ext is None:
                self._ext = hod_lod.day_extremes(lab)
            return self._ext
        return hod_lod.day_extremes(lab)

    def lab_for(self, days: set[dt.date]) -> pl.DataFrame:
        """Labelled bars of the given trading days only (slices of the master, no full pass)."""
        if self._lab is not None:
            return self._lab.filter(pl.col("td").is_in(sorted(days)))
        if not days:
            return label_minutes(self.bars.head(0), self.cal, self.seg).frame
        if self._near is None and self.changed:
            # the days every incremental step asks for (changed, next, previous, their month),
            # labelled once; each step's days are a filter of them (labels are per bar)
            c = set(self.changed)
            cn = c | self.shift_days(c, 1)
            near = cn | self.shift_days(cn, -1) | self.days_in(c, "M")
            self._near = (near, self._label(near))
        if self._near is not None and days <= self._near[0]:
            return self._near[1].filter(pl.col("td").is_in(sorted(days)))
        return self._label(days)

    def _label(self, days: set[dt.date]) -> pl.DataFrame:
        self._cover(min(days))
        if self._t is None:
            self._t = self.bars["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        seg = self.seg.filter(pl.col("trading_day").is_in(sorted(days)))
        s = np.searchsorted(self._t, seg["start"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy())
        e = np.searchsorted(self._t, seg["end"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy())
        n = e - s
        idx = np.repeat(s, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
        return label_minutes(self.bars[np.sort(idx)], self.cal, self.seg).frame

    # ------------------------------------------------------------------ day sets
    def shift_days(self, days: set[dt.date], k: int) -> set[dt.date]:
        """The calendar trading day ``k`` sessions after (k=1) / before (k=-1) each day."""
        if not days:
            return set()
        arr = np.array(sorted(days), dtype="datetime64[D]")
        pos = np.searchsorted(self.cdays, arr) + k
        ok = (pos >= 0) & (pos < len(self.cdays))
        return {d.astype(dt.date) for d in self.cdays[pos[ok]]}

    def days_in(self, days: set[dt.date], unit: str) -> set[dt.date]:
        """Calendar trading days in the same month (``M``) or year (``Y``) as any of ``days``."""
        keys = {np.datetime64(d, unit) for d in days}
        sel = np.isin(self.cdays.astype(f"datetime64[{unit}]"), list(keys))
        return {d.astype(dt.date) for d in self.cdays[sel]}

    def calendar_days(self, lab: pl.DataFrame) -> pl.Series:
        """Calendar trading days from a week before ``lab``'s first day to its last."""
        if lab.height == 0:
            return pl.Series("td", [], dtype=pl.Date)
        lo = np.datetime64(lab["td"].min() - dt.timedelta(days=7), "D")
        hi = np.datetime64(lab["td"].max(), "D")
        sel = self.cdays[(self.cdays >= lo) & (self.cdays <= hi)]
        return pl.Series("td", sel.astype("datetime64[D]"), dtype=pl.Date)


def _mode(ctx: Ctx, metas: list[dict | None], daily: dict | None = None) -> str:
    if ctx.full or ctx.state is None or ctx.changed is None:
        return "full"
    for m in metas:
        if not m or not lin.same_master(m.get("built_from"), ctx.state["built_from"]) or m.get("params") != ctx.prm:
            return "full"
    if daily is not None and metas and not lin.same_daily(metas[0].get("daily_from"), daily):
        return "full"
    if not ctx.changed and all(lin.same_master(m.get("built_from"), ctx.master) for m in metas):
        return "unchanged"  # built from this very master with these settings: nothing to write
    return "incremental"


def run_step(ctx: Ctx, step: str, res) -> None:
    """Run one step, filling ``res`` (a StepResult)."""
    {"upsample": _upsample, "hod_lod": _hod_lod, "profiler": _profiler,
     "levels": _levels, "web": _web}[step](ctx, res)


def _out(res, path: Path, rows: int, t0: float, written: bool = True) -> None:
    res.outputs.append(OutputResult(str(path), rows, time.perf_counter() - t0, written))


# ---------------------------------------------------------------------- steps
def _upsample(ctx: Ctx, res) -> None:
    metas = []
    for tf in INTRADAY_DERIVED:
        fm = ctx.store.read_meta(ctx.ticker, tf)
        bf = fm.built_from if fm else None
        metas.append({"built_from": bf, "params": bf.get("params")} if bf else None)
    res.mode = _mode(ctx, metas)
    if res.mode == "unchanged":
        for tf in INTRADAY_DERIVED:
            fm = ctx.store.read_meta(ctx.ticker, tf)
            _out(res, Path(fm.path), fm.rows, time.perf_counter(), written=False)
        return
    built_from = {**ctx.master, "params": ctx.prm}
    changed = set(ctx.changed or ())
    lab = ctx.lab_all() if res.mode == "full" else ctx.lab_for(changed)
    res.days = lab["td"].n_unique() if lab.height else 0
    t0 = time.perf_counter()
    frames = upsample_all(lab, INTRADAY_DERIVED, keep_td=True)
    if res.mode == "full":
        ctx.ups = frames
    for tf in INTRADAY_DERIVED:
        ctx.say(f"writing {ctx.ticker}_{tf}.parquet")
        new = frames[tf].drop("td")
        keep = 0
        if res.mode == "incremental":
            # the file's own unchanged row groups stay; only the rows after them are spliced
            keep, rest = ctx.store.read_after_row_groups(ctx.ticker, tf, _first_touched(ctx, changed, new))
            new = _splice(rest, new, _in_days_of(ctx, changed))
            ctx.rest[tf] = (keep, new)
        w = ctx.store.write(ctx.ticker, tf, new, operation="regenerate", backup=False, built_from=built_from,
                            details={"mode": res.mode, "days": res.days}, keep_row_groups=keep)
        _out(res, Path(w.path), w.rows_after, t0, w.written)
        t0 = time.perf_counter()


def _first_touched(ctx: Ctx, days: set[dt.date], tail: pl.DataFrame) -> dt.datetime:
    """The earliest instant an incremental splice can touch: the first segment of the changed
    days, or the first recomputed row if earlier (rows before it are kept as they are)."""
    seg = ctx.seg.filter(pl.col("trading_day").is_in(sorted(days))) if days else ctx.seg.head(0)
    firsts = [x for x in (seg["start"].min() if seg.height else None,
                          tail["datetime"].min() if tail.height else None) if x is not None]
    return min(firsts) if firsts else dt.datetime.min.replace(tzinfo=dt.UTC)


def _written_rows(ctx: Ctx, days: set[dt.date]) -> dict[str, pl.DataFrame] | None:
    """The upsampled bars of ``days`` (with ``td``) taken from the rows the incremental upsample
    step just wrote, instead of labelling and upsampling those days' 1m bars again; None when
    those rows do not hold every bar of ``days`` (their first row is later than the first
    session of ``days`` while older row groups were kept)."""
    if not days or set(ctx.rest) != set(INTRADAY_DERIVED):
        return None
    lo, hi = min(days), max(days)
    seg = ctx.cal.segments(lo - dt.timedelta(days=10), hi + dt.timedelta(days=10))
    inside = seg.filter(pl.col("trading_day").is_in(sorted(days)))
    if inside.height == 0:
        return None
    first = inside["start"].min()
    st = seg["start"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    mine = np.flatnonzero(seg["trading_day"].is_in(sorted(days)).to_numpy())
    # only rows whose segment (below) can be one of ``days``'s: t in [st[first one], st[after the last one])
    t_lo, t_hi = st[mine[0]], (st[mine[-1] + 1] if mine[-1] + 1 < len(st) else None)
    out = {}
    for tf, (keep, rows) in ctx.rest.items():
        if keep and (rows.height == 0 or rows["datetime"][0] > first):
            return None
        t = rows["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        a = int(np.searchsorted(t, t_lo, "left"))
        b = int(np.searchsorted(t, t_hi, "left")) if t_hi is not None else len(t)
        rows, t = rows.slice(a, b - a), t[a:b]
        # a bar opens inside the segment of its first minute: the last segment starting at or before it
        i = np.searchsorted(st, t, side="right") - 1
        ok = i >= 0
        td = seg["trading_day"].gather(np.clip(i, 0, None)) if seg.height else pl.Series([], dtype=pl.Date)
        frame = rows.with_columns(pl.when(pl.Series(ok)).then(td).otherwise(None).alias("td"))
        out[tf] = frame.filter(pl.col("td").is_in(sorted(days)))
    return out


def _in_days_of(ctx: Ctx, days: set[dt.date]):
    return lambda frame: _in_days(ctx, frame, days)


def _splice(old: pl.DataFrame, tail: pl.DataFrame, in_changed) -> pl.DataFrame:
    """The upsampled file's unchanged rows plus the recomputed ones, in time order.

    The usual incremental run changes only the last days: the kept rows are then the file's own
    prefix and the recomputed rows follow them, so no sort is needed (checked, not assumed)."""
    kept = old.filter(~pl.Series(in_changed(old)))
    if kept.height == 0 or tail.height == 0 or kept["datetime"][-1] < tail["datetime"][0]:
        return pl.concat([kept, tail]).with_columns(pl.col("datetime").set_sorted())
    return pl.concat([kept, tail]).sort("datetime")


def _in_days(ctx: Ctx, frame: pl.DataFrame, days: set[dt.date]) -> np.ndarray:
    """Mask of rows of ``frame`` whose datetime lies in a segment of one of ``days``."""
    if not days or frame.height == 0:
        return np.zeros(frame.height, bool)
    seg = ctx.seg.filter(pl.col("trading_day").is_in(sorted(days)))
    st = seg["start"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    en = seg["end"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    t = frame["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    i = np.searchsorted(st, t, side="right") - 1
    return (i >= 0) & (t < en[np.clip(i, 0, None)]) if len(st) else np.zeros(len(t), bool)


def _json_rows(ctx: Ctx, res, step: str, compute, affected, spec: rowsdoc.Spec, daily: dict | None = None) -> None:
    """Shared full/incremental flow of the per-day JSON outputs.

    Incremental: the rows of the affected days are computed, and the file's text is spliced
    (:mod:`datamgr.derived.rowsdoc`: unchanged leading rows kept as bytes, proven by the rows
    index); without a trusted rows index the whole file is parsed and merged instead."""
    t0 = time.perf_counter()
    path = lin.json_path(ctx.settings, ctx.ticker, step)
    index = rowsdoc.index_path(ctx.settings.data_dir, ctx.ticker, step)
    meta = lin.read_meta(path) if path.is_file() else None
    res.mode = _mode(ctx, [meta], daily)
    if res.mode == "unchanged":
        old = rowsdoc.open_rows(path, index)
        n = len(old.starts) if old is not None else len(json.loads(path.read_text(encoding="utf-8"))["days"])
        _out(res, path, n, t0, written=False)
        return
    before = None
    if res.mode == "full":
        lab = ctx.lab_all()
        rows = compute(lab, ctx.calendar_days(lab))
        doc, inputs = rowsdoc.full_doc(spec, rows)
        res.days = n = len(rows)
    else:
        target = affected(set(ctx.changed or ()))
        lab = ctx.lab_for(target | ctx.shift_days(target, -1))
        new = [r for r in compute(lab, ctx.calendar_days(lab)) if dt.date.fromisoformat(r["date"]) in target]
        res.days = len(new)
        old = rowsdoc.open_rows(path, index)
        if old is not None:
            try:
                doc, inputs = rowsdoc.splice(spec, old, {d.isoformat() for d in target}, new)
                before, n = old.sha256, len(doc.starts)
            except (ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as err:
                log.warning("%s: rows index unusable (%s): parsing the file in full", path.name, err)
                old = None
        if old is None:
            try:
                prev = json.loads(path.read_text(encoding="utf-8"))["days"]
                keep = [r for r in prev if dt.date.fromisoformat(r["date"]) not in target]
            except (OSError, ValueError, KeyError, TypeError) as err:  # damaged: rebuilt from the master
                log.warning("%s cannot be read (%s): rebuilt in full", path.name, err)
                res.mode, lab = "full", ctx.lab_all()
                keep, new = [], compute(lab, ctx.calendar_days(lab))
                res.days = len(new)
            rows = sorted(keep + new, key=lambda r: r["date"])
            doc, inputs = rowsdoc.full_doc(spec, rows)
            n = len(rows)
    rowsdoc.write(ctx.store, path, doc, inputs, index, operation="regenerate", before=before)
    _out(res, path, n, t0)


def _no_inputs(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame({"_": pl.Series([None] * len(rows), dtype=pl.Boolean)})


def _hod_lod(ctx: Ctx, res) -> None:
    _json_rows(ctx, res, "hod_lod",
               lambda lab, days: hod_lod.hod_lod_days(lab, ctx.extremes(lab), hod_lod.partial_days(lab, ctx.cal)),
               lambda c: c,
               rowsdoc.Spec(lambda: {"meta": lin.make_meta(ctx.ticker, ctx.master, ctx.prm)}, _no_inputs,
                            lambda inputs: {}))


def _profiler(ctx: Ctx, res) -> None:
    sessions = ctx.settings.instrument(ctx.ticker).sessions
    win = profiler.windows(sessions)

    def head() -> dict:
        return {"meta": lin.make_meta(ctx.ticker, ctx.master, ctx.prm),
                "sessions": [w[0] for w in win],
                "windows": {n: [s, e] for n, s, e in sorted(sessions, key=lambda x: [w[0] for w in win].index(x[0]))}}

    _json_rows(ctx, res, "profiler",
               lambda lab, days: profiler.profiler_days(lab, sessions, days, ctx.extremes(lab),
                                                        hod_lod.partial_days(lab, ctx.cal)),
               lambda c: c | ctx.shift_days(c, 1),
               rowsdoc.Spec(head, lambda rows: profiler.summary_inputs(rows, sessions),
                            lambda inputs: {"summary": profiler.summary_of(inputs, sessions,
                                                                           ctx.settings.derived_include_partial)}))


def _levels(ctx: Ctx, res) -> None:
    daily_lin = ctx.store.lineage(ctx.ticker, "1d")
    daily = ctx.store.read(ctx.ticker, "1d") if daily_lin.get("content_sha256") or \
        ctx.settings.bar_path(ctx.ticker, "1d").is_file() else None

    def head() -> dict:
        return {"meta": lin.make_meta(ctx.ticker, ctx.master, ctx.prm, daily_from=daily_lin),
                "levels": list(levels.LEVELS)}

    _json_rows(ctx, res, "levels", lambda lab, days: levels.level_days(lab, days, daily),
               lambda c: c | ctx.shift_days(c, 1),
               rowsdoc.Spec(head, levels.summary_inputs, lambda inputs: {"summary": levels.summary_of(inputs)}),
               daily=daily_lin)


def _web(ctx: Ctx, res) -> None:
    t0 = time.perf_counter()
    idx_path = lin.web_index(ctx.settings, ctx.ticker)
    meta = lin.read_meta(idx_path) if idx_path.is_file() else None
    res.mode = _mode(ctx, [meta])
    root = idx_path.parent
    if res.mode == "unchanged":
        _out(res, idx_path, len(json.loads(idx_path.read_text(encoding="utf-8"))["chunks"]), t0, written=False)
        return
    tfs = ("1m", *INTRADAY_DERIVED)
    if res.mode == "full":
        lab = ctx.lab_all()
        periods: dict[str, set[str] | None] = dict.fromkeys(tfs)
        entries: dict[tuple[str, str], dict] = {}
        stale_files = {p for p in root.rglob("*.json") if p != idx_path} if root.is_dir() else set()
        stale_files |= set(root.rglob(".*.tmp-*")) if root.is_dir() else set()  # orphans of a killed run
    else:
        changed = set(ctx.changed or ())
        year = ctx.days_in(changed, "Y") | changed
        written_ups = _written_rows(ctx, year)  # the year's upsampled bars, as just written
        lab = ctx.lab_for(ctx.days_in(changed, "M") | changed if written_ups else year)
        periods = {tf: {web_chunks.period_of(tf, d) for d in changed} for tf in tfs}
        old = json.loads(idx_path.read_text(encoding="utf-8"))
        entries = {(e["timeframe"], e["period"]): e for e in old["chunks"]}
        stale_files = set()
    res.days = lab["td"].n_unique() if lab.height else 0
    if res.mode == "full":
        ups = ctx.ups or upsample_all(lab, INTRADAY_DERIVED, keep_td=True)
    elif written_ups:
        ups = written_ups
        res.days = written_ups[INTRADAY_DERIVED[0]]["td"].n_unique()  # the year's days with bars, as before
    else:
        ups = upsample_all(lab, INTRADAY_DERIVED, keep_td=True)
    written = 0
    splice_path = layout.web_splice_path(ctx.settings.data_dir, ctx.ticker)
    records = _web_records(splice_path) if res.mode == "incremental" else {}
    for tf in tfs:
        ctx.say(f"{tf} chunks")
        want = periods[tf]
        if tf == "1m":
            frame = lab
        else:
            frame = ups[tf]
        chunks = _chunks(ctx, res.mode, tf, frame, want, root, entries, records)
        for period in want or ():
            if period not in chunks and (tf, period) in entries:  # the period lost all its bars
                (root / entries.pop((tf, period))["file"]).unlink(missing_ok=True)
        for period, chunk in chunks.items():
            path = root / tf / f"{period}.json"
            web_chunks.write_atomic(path, chunk.parts)
            stale_files.discard(path)
            entries[(tf, period)] = chunk.entry()
            written += 1
    for p in stale_files:  # chunks of a previous full build that no longer exist
        p.unlink(missing_ok=True)
    web_chunks.fsync_dirs([root / tf for tf in tfs])
    order = {tf: i for i, tf in enumerate(tfs)}
    chunks_list = [entries[k] for k in sorted(entries, key=lambda k: (order[k[0]], k[1]))]
    doc = {"meta": lin.make_meta(ctx.ticker, ctx.master, ctx.prm, timeframes=list(tfs)), "chunks": chunks_list}
    splice_path.unlink(missing_ok=True)
    ctx.store.write_json(idx_path, doc, operation="regenerate")
    web_chunks.write_atomic(splice_path, json.dumps(
        {"version": 1, "chunks": {k: v for k, v in records.items() if tuple(k.split("/")) in entries}}).encode())
    _out(res, idx_path, len(chunks_list), t0)
    res.outputs[-1].rows = written if res.mode == "incremental" else len(chunks_list)


def _web_records(path: Path) -> dict[str, dict]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return dict(raw["chunks"]) if raw.get("version") == 1 else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _chunks(ctx: Ctx, mode: str, tf: str, frame: pl.DataFrame, want: set[str] | None, root: Path,
            entries: dict[tuple[str, str], dict], records: dict[str, dict]) -> dict[str, web_chunks.Chunk]:
    """The chunks of one timeframe, and their splice records in ``records`` (a full run keeps the
    latest chunk's only: hashing every chunk would cost more than the splice saves)."""
    if mode == "incremental":
        chunks = _spliced_chunks(ctx, tf, frame, want or set(), root, entries, records)
        for period, chunk in chunks.items():
            records[f"{tf}/{period}"] = web_chunks.splice_record(chunk)
    else:
        chunks = web_chunks.build_chunks(ctx.ticker, tf, frame, want)
        if chunks:
            latest = max(chunks)
            records[f"{tf}/{latest}"] = web_chunks.splice_record(chunks[latest])
    return chunks


def _spliced_chunks(ctx: Ctx, tf: str, frame: pl.DataFrame, want: set[str], root: Path,
                    entries: dict[tuple[str, str], dict], records: dict[str, dict]) -> dict[str, web_chunks.Chunk]:
    """The chunks of the ``want`` periods: spliced from the old chunk's text where its record
    proves it (:func:`datamgr.derived.web_chunks.splice_chunk`), built in full otherwise."""
    changed = sorted(ctx.changed or ())
    out: dict[str, web_chunks.Chunk] = {}
    rest = set()
    for period in sorted(want):
        first = min(d for d in changed if web_chunks.period_of(tf, d) == period)
        rec, entry, got = records.get(f"{tf}/{period}"), entries.get((tf, period)), None
        if rec is not None and entry is not None:
            try:
                data = (root / entry["file"]).read_bytes()
            except OSError:
                data = None
            if data is not None:
                got = web_chunks.splice_chunk(ctx.ticker, tf, period, frame, first, data, rec)
        if got is not None:
            out[period] = got
        else:
            rest.add(period)
    if rest:
        out.update(web_chunks.build_chunks(ctx.ticker, tf, frame, rest))
    return out
