"""The source-adapter contract: adapters only fetch raw bars; the public path validates.

A :class:`BarSource` turns a request (symbol, interval, UTC range) into a frame in the
canonical bar schema (:mod:`datamgr.core.schema`) with its ``source`` label, and nothing more: no
session filtering, no validation, no merge. :func:`datamgr.ops.update.update` is the public path
that validates (:mod:`datamgr.ingest.validate`), quarantines and merges what an adapter returns.

Adapters translate their provider's errors at the boundary into
:class:`~datamgr.core.errors.SourceError` (``raise SourceError(msg) from err``), and an empty
answer is a ``SourceError`` too: "no data" is never a silent success.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import polars as pl

from datamgr.core.progress import Progress


@runtime_checkable
class BarSource(Protocol):
    """A provider of raw bars.

    Attributes
    ----------
    name : str
        The ``source`` label of the bars it returns (``yahoo``).
    """

    name: str

    def fetch(self, symbol: str, interval: str, start: dt.datetime, end: dt.datetime, *,
              progress: Progress = None) -> pl.DataFrame:
        """Raw bars of ``symbol`` at ``interval`` with open times in ``[start, end)`` (UTC).

        Returns
        -------
        polars.DataFrame
            Canonical bar columns (``datetime`` = bar open, UTC; daily/weekly bars labelled by
            date at 00:00 UTC), not validated.

        Raises
        ------
        SourceError
            Network error, rate limit, provider error, or an empty answer.
        """
        ...
