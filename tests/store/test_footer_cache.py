"""The footer cache answers for an unchanged file only (a replaced or just-edited file is re-read)."""

from __future__ import annotations

import datetime as dt
import os

from datamgr.ops.demo import make_demo_bars
from datamgr.store import footer
from datamgr.store.footer import read_footer


def test_a_replaced_file_is_read_again_and_a_fresh_edit_is_never_cached(store, monkeypatch):
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 4)), operation="test")
    p = store.path("ES1", "1m")
    monkeypatch.setattr(footer, "_RACY_NS", 0)  # no waiting: treat the new file as settled
    first = read_footer(p)
    assert read_footer(p) is first  # cached
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 5)), operation="test")
    second = read_footer(p)
    assert second is not first and second.rows > first.rows and second.generation == first.generation + 1
    monkeypatch.setattr(footer, "_RACY_NS", 3600 * 10**9)  # now: everything counts as just edited
    data = bytearray(p.read_bytes())
    data[-12:-8] = b"\xff\xff\xff\xff"  # footer length garbled in place, same size
    p.write_bytes(bytes(data))
    os.utime(p, ns=(os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns))
    assert read_footer(p).problems  # not the cached good answer
    assert read_footer(p, cached=False).problems
