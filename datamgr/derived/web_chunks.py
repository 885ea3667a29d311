"""Web chart chunks (SPEC 8.5): ``web/<T>/<tf>/<period>.json`` + ``web/<T>/index.json``.

A chunk holds compact column arrays ``t`` (epoch seconds of the bar open), ``o, h, l, c, v``.
Periods follow the trading day of each bar (a trading day is never split): one chunk per month
(``YYYY-MM``) for 1m and per year (``YYYY``) for the upsampled timeframes.

Decisions where the spec is silent:

* Lineage (``built_from``, ``built_at``, ``datamgr_version``) lives in ``index.json``'s ``meta``;
  each chunk carries only its own ``meta`` (ticker, timeframe, period, rows, start, end). That
  way an incremental run rewrites only the chunks whose trading days changed, and a chunk's
  bytes depend on its bars alone. ``index.json`` lists every chunk with its sha256.
* The text is built column-wise by polars (float -> shortest round-trip text), not by
  ``json.dumps`` over millions of Python floats.
* Chunks are written atomically (temp file in the same folder, ``os.replace``, one folder fsync
  at the end) but without a per-file fsync: 18 years of 1m chunks are ~280 MB of regenerable
  text, and flushing each file cost more than building it. ``index.json`` (written durably,
  last) records each chunk's ``bytes``, so a chunk torn by a power cut is detectable and is
  rebuilt by the next full regeneration.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from datamgr.derived.resample import et_iso
from datamgr.store.atomic import fsync_dir

COLS = (("t", "datetime"), ("o", "open"), ("h", "high"), ("l", "low"), ("c", "close"), ("v", "volume"))


def period_of(tf: str, day) -> str:
    """Chunk period (``YYYY-MM`` for 1m, ``YYYY`` otherwise) of a trading day."""
    return f"{day:%Y-%m}" if tf == "1m" else f"{day:%Y}"


@dataclass(frozen=True)
class Chunk:
    """One serialized chunk: its JSON text as a list of byte strings (written without joining)."""

    timeframe: str
    period: str
    rows: int
    start: str
    end: str
    parts: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)

    def entry(self) -> dict:
        """The chunk's line in ``index.json``."""
        return {"timeframe": self.timeframe, "period": self.period, "file": f"{self.timeframe}/{self.period}.json",
                "rows": self.rows, "start": self.start, "end": self.end, "bytes": self.size}


def build_chunks(ticker: str, tf: str, frame: pl.DataFrame, periods: set[str] | None = None) -> dict[str, Chunk]:
    """Serialized chunks of one timeframe, keyed by period.

    Parameters
    ----------
    frame : pl.DataFrame
        Bars with ``datetime``, ``open``..``volume`` and ``td`` (trading day).
    periods : set of str, optional
        Build only these periods (incremental run); all when None.
    """
    unit = "M" if tf == "1m" else "Y"
    per = frame["td"].to_numpy().astype(f"datetime64[{unit}]")
    if periods is not None:
        keep = np.isin(per, np.array(sorted(periods), dtype=f"datetime64[{unit}]"))
        frame, per = frame.filter(pl.Series(keep)), per[keep]
    if frame.height == 0:
        return {}
    bounds = np.concatenate([[0], np.flatnonzero(per[1:] != per[:-1]) + 1, [len(per)]])
    # cast every column to text once, then join slices per chunk (rows are in period order)
    text = {key: (pl.col(src).dt.epoch("s") if key == "t" else pl.col(src)).cast(pl.String)
            for key, src in COLS}
    txt = frame.select(**text)
    first, last = frame["datetime"].gather(bounds[:-1]), frame["datetime"].gather(bounds[1:] - 1)
    starts = pl.select(et_iso(pl.lit(first))).to_series().to_list()
    ends = pl.select(et_iso(pl.lit(last))).to_series().to_list()
    out: dict[str, Chunk] = {}
    for i in range(len(bounds) - 1):  # one iteration per chunk (month/year), not per bar or day
        pos, n, period = int(bounds[i]), int(bounds[i + 1] - bounds[i]), str(per[bounds[i]])
        parts = [(f'{{"meta":{{"ticker":"{ticker}","timeframe":"{tf}","period":"{period}",'
                  f'"rows":{n},"start":"{starts[i]}","end":"{ends[i]}"}}').encode()]
        for k, _ in COLS:
            parts.append(f',"{k}":['.encode())
            parts.append(txt[k].slice(pos, n).str.join(",").cast(pl.Binary).item())
            parts.append(b"]")
        parts.append(b"}\n")
        out[period] = Chunk(tf, period, n, starts[i], ends[i], tuple(parts))
    return out


def write_atomic(path: Path, data: bytes | tuple[bytes, ...]) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, ``os.replace``).

    No per-file fsync (see the module docstring); call :func:`fsync_dirs` once at the end.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                fh.writelines(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dirs(folders) -> None:
    """Make the renames in ``folders`` durable (POSIX; a no-op on Windows)."""
    for f in sorted(set(folders)):
        if Path(f).is_dir():
            fsync_dir(Path(f))
