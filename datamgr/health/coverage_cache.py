"""The coverage figure of a 1m master, remembered on disk per file state (light: json only).

:func:`datamgr.health.report.master_coverage` reads the master (``datetime``, ``volume``) and runs
the continuity check: seconds on 18 years. Its answer depends only on the file's content, the
calendar and the overrides, so it is kept in ``<data>/.cache/coverage-<ticker>.json`` keyed by the
file's name, size, mtime, generation and content hash, the overrides file's hash, the calendar and
the datamgr version; ``status`` and the inventory then show the same figure as Health without
importing polars. Regenerable bookkeeping: written atomically, ignored when unreadable.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from datamgr import __version__
from datamgr.calendar.overrides import overrides_fingerprint
from datamgr.core import layout

log = logging.getLogger(__name__)


def _path(settings, ticker: str) -> Path:
    return layout.cache_dir(settings.data_dir) / f"coverage-{layout.check_ticker(ticker)}.json"


def key(settings, ticker: str, meta) -> list:
    """What the figure depends on (``meta``: the master's :class:`~datamgr.store.footer.FileMeta`)."""
    st = os.stat(meta.path)
    return [Path(meta.path).name, st.st_size, st.st_mtime_ns, meta.generation, meta.content_sha256,
            overrides_fingerprint(settings.overrides_path), settings.instrument(ticker).calendar, __version__]


def load(settings, ticker: str, meta) -> dict[str, Any] | None:
    """The remembered figure (``expected, present, outside, holes, quiet``) or None."""
    try:
        raw = json.loads(_path(settings, ticker).read_text(encoding="utf-8"))
        return raw["value"] if raw.get("key") == key(settings, ticker, meta) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(settings, ticker: str, meta, value: dict[str, Any]) -> None:
    p = _path(settings, ticker)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key(settings, ticker, meta), "value": value}), encoding="utf-8")
        os.replace(tmp, p)
    except OSError as err:  # a read-only folder: the cache is an optimisation
        log.debug("%s: coverage cache not written: %s", p, err)
        tmp.unlink(missing_ok=True)
