"""Windows cut out of the real exports (shared/data/real): the lines of the file, unchanged, or with
their prices / volumes transformed (another contract month, a price scale)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

MES = "MES 09-25.Last.txt"


def lines(path: Path) -> list[str]:
    """The data lines of an export (line ends stripped, blank lines dropped)."""
    return [ln for ln in path.read_text().splitlines() if ln.strip()]


def stamp(line: str) -> dt.datetime:
    """The stamp of an NT8 minute line as written (naive wall clock)."""
    return dt.datetime.strptime(line.split(";")[0], "%Y%m%d %H%M%S")


def find(rows: list[str], when: str) -> int:
    """Index of the first line stamped at or after ``when`` (``yyyyMMdd HHmmss``)."""
    return next(i for i, ln in enumerate(rows) if ln.split(";")[0] >= when)


def render(rows: list[str]) -> bytes:
    """Lines back to an export (CRLF, as NinjaTrader writes)."""
    return ("\r\n".join(rows) + "\r\n").encode()


def _num(x: float) -> str:
    s = f"{x:.6f}".rstrip("0").rstrip(".")
    return s or "0"


def transform(rows: list[str], *, add: float = 0.0, scale: float = 1.0, volume=None) -> list[str]:
    """Prices ``p * scale + add`` (OHLC) and volumes ``volume(i, v)`` of every line."""
    out = []
    for i, ln in enumerate(rows):
        f = ln.split(";")
        px = [_num(float(x) * scale + add) for x in f[1:5]]
        v = int(f[5]) if volume is None else int(volume(i, int(f[5])))
        out.append(";".join([f[0], *px, str(v)]))
    return out
