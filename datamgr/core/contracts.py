"""Contract months from export names (SPEC 6): ``MES 12-25.Last.txt`` -> root ``MES``, month 2025-12.

NinjaTrader names an export after its instrument: ``<ROOT> <MM>-<YY>`` (``ES 03-24.Last.txt``).
The name only ever *tells* the contract (for messages, the roll direction and the footer's contract
ranges); it is never used as a path and never decides where bars go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

_RE = re.compile(r"^\s*([A-Za-z0-9]{1,6})\s+(\d{2})-(\d{2})(?:\D|$)")


@dataclass(frozen=True, order=True)
class Contract:
    """One futures contract month, e.g. ``MES 12-25`` (December 2025)."""

    year: int
    month: int
    root: str

    @property
    def label(self) -> str:
        return f"{self.root} {self.month:02d}-{self.year % 100:02d}"

    def __str__(self) -> str:
        return self.label


def contract_from_name(name: str | None) -> Contract | None:
    """The contract an export's display name tells (``MES 12-25.Last.txt``), or None.

    Parameters
    ----------
    name : str
        File name as shown to the user (only the last path part is looked at).
    """
    if not name:
        return None
    m = _RE.match(PurePath(str(name)).name)
    if not m:
        return None
    month, yy = int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12:
        return None
    return Contract(2000 + yy, month, m.group(1).upper())


def parse_label(label: str | None) -> Contract | None:
    """Inverse of :attr:`Contract.label` (``"MES 12-25"``), for labels stored in footers."""
    return contract_from_name(label) if label else None
