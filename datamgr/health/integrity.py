"""Integrity scan of a whole bar file: SPEC 4 invariants, off-tick prices, spikes, zero volume.

Each finding names the rule, how many rows break it, and the first rows (0-based positions in
the file) with their times in ET, so a person can find them in the chart or the export.

Decisions:

* **Off-tick**: a price whose distance to the nearest multiple of the instrument's tick size is
  more than 1e-6 ticks' worth of float noise (``|p/tick - round(p/tick)| > 1e-6``).
* **Spike**: a bar whose high or low lies more than ``spike_k`` robust scales *and* at least
  ``spike_min_ticks`` ticks beyond (above for a high, below for a low) both the mean close of the
  two bars before it and the mean close of the two bars after it (bars more than 5 minutes away
  do not count: session opens are not spikes). The scale is the rolling mean (61 bars, centred) of
  ``|close - previous close|``, at least one tick (a rolling median is 20x slower on 18 years
  and a single print moves a 61-bar mean by only 1/61 of its size). A real fast move stays at its new level, so it
  is near the bars after it; an isolated print is near neither side.
* **Zero-volume run**: at least ``zero_run`` consecutive bars with ``volume == 0``.
* Severity: invariant violations and off-tick prices are errors (the data is wrong); spikes and
  zero-volume runs are warnings (real markets make them too: a person should look).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from datamgr.core.schema import PRICE_COLUMNS, validate_bars
from datamgr.core.timefmt import to_et_iso

MAX_LISTED = 20


@dataclass(frozen=True)
class Finding:
    """One rule broken somewhere in the file."""

    rule: str
    count: int
    rows: tuple[int, ...]
    times: tuple[str, ...] = ()
    detail: str = ""

    @property
    def severity(self) -> str:
        """``error`` (invariants, off-tick) or ``warning`` (spikes, zero volume: look at them)."""
        return "warning" if self.rule.startswith(("spike", "zero-volume")) else "error"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "count": self.count,
                "rows": list(self.rows), "times": list(self.times), "detail": self.detail}


@dataclass
class IntegrityReport:
    rows: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        """No error-severity finding (spikes and zero-volume runs are warnings)."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "ok": self.ok, "findings": [f.to_json() for f in self.findings]}


def _finding(rule: str, df: pl.DataFrame, mask: np.ndarray, detail: str = "") -> Finding | None:
    pos = np.nonzero(mask)[0]
    if len(pos) == 0:
        return None
    head = pos[:MAX_LISTED]
    times = tuple(to_et_iso(t) for t in df["datetime"].gather(head).to_list())
    return Finding(rule, int(len(pos)), tuple(int(p) for p in head), times, detail)


def scan(df: pl.DataFrame, tick_size: float | None = None, *, spike_k: float = 20.0,
         spike_min_ticks: int = 20, zero_run: int = 5) -> IntegrityReport:
    """Scan every row of ``df`` (a canonical bar frame).

    Parameters
    ----------
    df : DataFrame
        Bars in the canonical schema (SPEC 4).
    tick_size : float, optional
        The instrument's tick; off-tick and the spike floor are skipped without it.
    spike_k, spike_min_ticks : float, int
        Spike thresholds (module docstring).
    zero_run : int
        Minimum length of a reported zero-volume run.

    Returns
    -------
    IntegrityReport
    """
    out = IntegrityReport(df.height)
    for v in validate_bars(df):
        out.findings.append(Finding(f"invariant: {v.rule}", v.count, v.rows,
                                    tuple(to_et_iso(t) for t in v.times)))
    if df.height == 0 or any(f.rule.startswith("invariant: schema") for f in out.findings):
        return out
    if tick_size:
        off = _off_tick(df, tick_size)
        if off is not None:
            f = _finding("off-tick price", df, off, f"tick size {tick_size:g}")
            if f:
                out.findings.append(f)
    f = _spikes(df, tick_size or 0.0, spike_k, spike_min_ticks)
    if f:
        out.findings.append(f)
    f = _zero_runs(df, zero_run)
    if f:
        out.findings.append(f)
    return out


def _off_tick(df: pl.DataFrame, tick: float) -> np.ndarray | None:
    """Rows with a finite price off the tick grid, or None when there is none.

    A file holds far fewer distinct prices than rows (an 18-year ES master: about 30 thousand in
    25 million cells), so the grid is checked on the distinct values of each price column and the
    rows are looked at only when some value is off the grid: the usual clean file never builds a
    row mask.
    """
    bad: dict[str, np.ndarray] = {}
    for c in PRICE_COLUMNS:
        u = df[c].unique().to_numpy()
        with np.errstate(invalid="ignore"):
            q = u / tick
            off = np.isfinite(u) & (np.abs(q - np.round(q)) > 1e-6)
        if off.any():
            bad[c] = u[off]
    if not bad:
        return None
    finite = np.logical_and.reduce([np.isfinite(df[c].to_numpy()) for c in PRICE_COLUMNS])
    hit = np.logical_or.reduce([np.isin(df[c].to_numpy(), v) for c, v in bad.items()])
    return hit & finite


def _spikes(df: pl.DataFrame, tick: float, k: float, min_ticks: int) -> Finding | None:
    if df.height < 5:
        return None
    c, t = pl.col("close"), pl.col("datetime")
    near = pl.duration(minutes=5)
    s = df.select(
        pl.when(t - t.shift(2) <= near).then((c.shift(2) + c.shift(1)) / 2).alias("before"),
        pl.when(t.shift(-2) - t <= near).then((c.shift(-1) + c.shift(-2)) / 2).alias("after"),
        (c - c.shift(1)).abs().rolling_mean(61, min_samples=5, center=True).alias("scale"),
        "high", "low",
    )
    scale = np.maximum(s["scale"].fill_null(0).to_numpy(), tick)
    b, a = s["before"].to_numpy(), s["after"].to_numpy()  # NaN where the neighbours are not near
    # up: the high towers over both sides; down: the low sinks under both sides
    d = np.maximum(s["high"].to_numpy() - np.maximum(b, a), np.minimum(b, a) - s["low"].to_numpy())
    with np.errstate(invalid="ignore"):
        mask = (d > k * scale) & (d >= min_ticks * tick) & np.isfinite(d)
    return _finding("spike", df, mask, f"> {k:g} robust scales and >= {min_ticks} ticks from neighbours")


def _zero_runs(df: pl.DataFrame, min_len: int) -> Finding | None:
    z = (df["volume"].to_numpy() == 0).astype(np.int8)
    d = np.diff(np.concatenate(([0], z, [0])))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    keep = (ends - starts) >= min_len
    mask = np.zeros(df.height, dtype=bool)
    mask[starts[keep]] = True
    lengths = ", ".join(str(int(x)) for x in (ends - starts)[keep][:MAX_LISTED])
    f = _finding(f"zero-volume run (>= {min_len} bars)", df, mask, f"run lengths {lengths}")
    return f
