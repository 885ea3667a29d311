"""Inventory: every file of the data folder with its state (:mod:`datamgr.ops.folder_scan`), and
each master's coverage figure from Health (:func:`datamgr.health.report.master_coverage`),
remembered per file state in the folder's coverage cache."""

from __future__ import annotations

import datetime as dt

from datamgr.core.config import Settings
from datamgr.health.report import master_coverage
from datamgr.ops.folder_scan import FLAG_ICONS, FileInfo, check_data_dir, flag_icon, preview, tickers, to_frame
from datamgr.ops.folder_scan import scan as scan_folder

__all__ = ["FLAG_ICONS", "FileInfo", "check_data_dir", "flag_icon", "preview", "scan", "scan_folder", "tickers",
           "to_frame"]


def scan(settings: Settings, now: dt.datetime | None = None) -> list[FileInfo]:
    """Every file of the data folder with its state, sorted by category, ticker, name; the
    masters' coverage and holes are Health's figures (computed once per file state).

    Parameters
    ----------
    settings : Settings
    now : datetime, optional
        The clock for the "behind: N sessions" flag (UTC-aware); the wall clock when omitted.
    """
    return scan_folder(settings, now=now, coverage=master_coverage)
