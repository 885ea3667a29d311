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

import datetime as dt
import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
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
    frame, per = _in_periods(tf, frame, periods)
    if frame.height == 0:
        return {}
    bounds = np.concatenate([[0], np.flatnonzero(per[1:] != per[:-1]) + 1, [len(per)]])
    # cast every column to text once, then join slices per chunk (rows are in period order)
    txt = frame.select(**_TEXT)
    first, last = frame["datetime"].gather(bounds[:-1]), frame["datetime"].gather(bounds[1:] - 1)
    starts = pl.select(et_iso(pl.lit(first))).to_series().to_list()
    ends = pl.select(et_iso(pl.lit(last))).to_series().to_list()
    out: dict[str, Chunk] = {}
    for i in range(len(bounds) - 1):  # one iteration per chunk (month/year), not per bar or day
        pos, n, period = int(bounds[i]), int(bounds[i + 1] - bounds[i]), str(per[bounds[i]])
        cols = [txt[k].slice(pos, n).str.join(",").cast(pl.Binary).item() for k, _ in COLS]
        out[period] = _chunk(ticker, tf, period, n, starts[i], ends[i], cols)
    return out


_TEXT = {key: (pl.col(src).dt.epoch("s") if key == "t" else pl.col(src)).cast(pl.String) for key, src in COLS}


def _in_periods(tf: str, frame: pl.DataFrame, periods: set[str] | None) -> tuple[pl.DataFrame, np.ndarray]:
    unit = "M" if tf == "1m" else "Y"
    per = frame["td"].to_numpy().astype(f"datetime64[{unit}]")
    if periods is not None:
        keep = np.isin(per, np.array(sorted(periods), dtype=f"datetime64[{unit}]"))
        frame, per = frame.filter(pl.Series(keep)), per[keep]
    return frame, per


def _chunk(ticker: str, tf: str, period: str, n: int, start: str, end: str, cols: list[bytes]) -> Chunk:
    parts = [(f'{{"meta":{{"ticker":"{ticker}","timeframe":"{tf}","period":"{period}",'
              f'"rows":{n},"start":"{start}","end":"{end}"}}').encode()]
    for (k, _), text in zip(COLS, cols, strict=True):
        parts += [f',"{k}":['.encode(), text, b"]"]
    parts.append(b"}\n")
    return Chunk(tf, period, n, start, end, tuple(parts))


def splice_record(chunk: Chunk) -> dict:
    """What :func:`splice_chunk` needs to trust and cut the chunk's file later: its sha256,
    size, rows and the byte span of each column's values."""
    pos, cols = len(chunk.parts[0]), []
    for j in range(len(COLS)):
        pos += len(chunk.parts[1 + 3 * j])
        cols.append([pos, pos + len(chunk.parts[2 + 3 * j])])
        pos = cols[-1][1] + len(chunk.parts[3 + 3 * j])
    return {"sha256": hashlib.sha256(b"".join(chunk.parts)).hexdigest(), "bytes": chunk.size,
            "rows": chunk.rows, "cols": cols}


def splice_chunk(ticker: str, tf: str, period: str, frame: pl.DataFrame, first_day, data: bytes,
                 record: dict) -> Chunk | None:
    """The chunk of ``period`` rebuilt from the old chunk's text (``data``, proven by ``record``)
    for the rows of days before ``first_day`` and from ``frame`` (every bar of the period's days,
    with ``td``) for the rest: only the rows from ``first_day`` on are serialized again.

    None when anything does not fit (hash, size, row counts, the last kept bar's time, days not
    in time order): the caller builds the chunk in full."""
    try:
        if len(data) != record["bytes"] or hashlib.sha256(data).hexdigest() != record["sha256"]:
            return None
        spans = [(int(a), int(b)) for a, b in record["cols"]]
        old_rows = int(record["rows"])
    except (KeyError, TypeError, ValueError):
        return None
    frame, _ = _in_periods(tf, frame, {period})
    if frame.height == 0 or len(spans) != len(COLS):
        return None
    td = frame["td"]
    if td.null_count() or not (td.diff().drop_nulls() >= dt.timedelta(0)).all():
        return None
    r = int((td < first_day).sum())  # the kept rows: the days before the first changed one
    if r > old_rows:
        return None
    arr = np.frombuffer(data, np.uint8)
    kept, commas = [], []
    for a, b in spans:
        c = a + np.flatnonzero(arr[a:b] == 44)
        if (len(c) + 1 if b > a else 0) != old_rows:
            return None
        commas.append(c)
        kept.append(b"" if r == 0 else data[a:int(c[r - 1])] if r < old_rows else data[a:b])
    if r:
        t_old = data[(int(commas[0][r - 2]) + 1 if r >= 2 else spans[0][0]):
                     (int(commas[0][r - 1]) if r < old_rows else spans[0][1])]
        t_new = frame["datetime"][r - 1]
        if int(t_old) != int(t_new.timestamp()):
            return None
    rest = frame.slice(r).select(**_TEXT)
    new = [rest[k].str.join(",").cast(pl.Binary).item() if rest.height else b"" for k, _ in COLS]
    cols = [k + (b"," if k and n else b"") + n for k, n in zip(kept, new, strict=True)]
    ends = pl.select(et_iso(pl.lit(frame["datetime"].gather([0, frame.height - 1])))).to_series().to_list()
    return _chunk(ticker, tf, period, frame.height, ends[0], ends[1], cols)


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
    """Make the renames in ``folders`` durable (POSIX; a no-op on Windows).

    The folders are flushed side by side (an fsync waits on the disk, not the CPU): all have
    returned, or the first error propagates, before this returns."""
    todo = [Path(f) for f in sorted(set(folders)) if Path(f).is_dir()]
    if len(todo) < 2:
        for f in todo:
            fsync_dir(f)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
        for fut in [pool.submit(fsync_dir, f) for f in todo]:
            fut.result()
