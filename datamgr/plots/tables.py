"""Display tables for the pages (no Streamlit here): one time style, no "None" cells.

:func:`display_frame` turns any frame a page shows into text a person reads: datetimes (and
ISO 8601 strings) in the display zone as ``2025-07-14 00:36 ET``, missing values as ``—``,
dicts as compact ``key: value`` text. Numbers without missing values stay numbers (sortable).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import pandas as pd

from datamgr.core.timefmt import EMPTY, ET, fmt_time

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def is_missing(v: Any) -> bool:
    if v is None or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, dict, set)) else False
    except (TypeError, ValueError):
        return False


def cell_text(v: Any, tz: str = ET, *, seconds: bool = False) -> Any:
    """One cell for display: times in ``tz`` (minutes), missing as ``—``, dicts as text."""
    if is_missing(v):
        return EMPTY
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return fmt_time(v, tz, seconds=seconds)
    if isinstance(v, str) and ISO_RE.match(v):
        return fmt_time(v, tz, seconds=seconds)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {cell_text(x, tz)}" for k, x in v.items()) or EMPTY
    if isinstance(v, (list, tuple)):
        return v
    return v


def display_frame(df: pd.DataFrame, tz: str = ET, *, seconds: bool = False) -> pd.DataFrame:
    """A copy of ``df`` ready to show: no None/NaN cells, no raw ISO strings, times in ``tz``."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            out[c] = [cell_text(v, tz, seconds=seconds) for v in col]
        elif pd.api.types.is_bool_dtype(col):
            out[c] = col
        elif pd.api.types.is_numeric_dtype(col):
            out[c] = col if not col.isna().any() else [EMPTY if is_missing(v) else _num(v) for v in col]
        else:
            out[c] = [cell_text(v, tz, seconds=seconds) for v in col]
    return out


def _num(v: Any) -> str:
    """A number of a column that also has missing values, as text: exact (shortest repr), like
    the numeric columns beside it (``4848.25``, ``30306``)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(float(v)) if isinstance(v, float) else str(v)


def compact_json(v: Any) -> str:
    return json.dumps(v, default=str, separators=(", ", ": "))
