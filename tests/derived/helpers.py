"""Helpers for the derived-data tests: compare outputs ignoring ``built_at``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from datamgr.store.store import Store

_BUILT_AT = re.compile(rb'"built_at":"[^"]*"')


def json_outputs(data_dir: Path, ticker: str = "ES1") -> dict[str, bytes]:
    """Every derived JSON file (analysis + web) with ``built_at`` blanked, keyed by relative path."""
    out = {}
    for p in sorted(list(Path(data_dir).glob(f"{ticker}_*.json")) + list((Path(data_dir) / "web").rglob("*.json"))):
        out[str(p.relative_to(data_dir))] = _BUILT_AT.sub(b'"built_at":""', p.read_bytes())
    return out


def parquet_hashes(store: Store, ticker: str = "ES1") -> dict[str, str]:
    """Content hash of every upsampled file (bytes differ by write time; content must not)."""
    return {tf: store.read_meta(ticker, tf).content_sha256 for tf in ("5m", "15m", "1h", "4h")}


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
