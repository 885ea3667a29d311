"""Issue 11 (Low): reading a 2 GB sparse file stays under 500 MB of memory.

Which reads apply (the decision, also in the README):

* an export / saved file given to ``import``, ``verify`` or ``update --from-file``: read whole by the
  parsers, so it is refused *before* it is read when it is over 1 GiB (from ``stat``), and when it
  ends in a run of NUL bytes (last 64 KiB read) -- a file extended with ``truncate``;
* a master extended to 2 GB (``status`` / the inventory, ``health``, and an import that must read
  it before writing): the footer at the end is read (memory-mapped), is not Parquet any more, and
  the file is reported damaged; finding a backup to name hashes it in 1 MiB pieces (streamed).

Memory is the peak RSS of a fresh process running the CLI command (``VmHWM``: its own high-water
mark, not the forking test worker's, which ``ru_maxrss`` would carry over on Linux).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datamgr.core.errors import InputError
from datamgr.ingest.draft import ImportDraft
from datamgr.ops.import_export import read_input
from datamgr.store.store import Store
from tests.ingest.nt_builders import render_fast, session_bars

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
TWO_GB = 2 * 1024**3
LIMIT_MB = 500
NY = "America/New_York"


def folder_digest(path: Path) -> dict[str, str]:
    """:func:`tests.conftest.folder_hash` read in 1 MiB pieces: the test process itself must not
    hold 2 GB (a child forked from a big process inherits its peak RSS in ``getrusage``)."""
    out = {}
    for p in sorted(Path(path).rglob("*")):
        if p.is_file() and not p.name.startswith(".datamgr.lock") and ".cache" not in p.relative_to(path).parts[:1]:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out[str(p.relative_to(path))] = h.hexdigest()
    return out


def export_bytes() -> bytes:
    return render_fast(session_bars("CME Globex Equity", dt.date(2025, 1, 6), dt.date(2025, 1, 8)), NY)


def cli(data_dir: Path, *args: str) -> dict:
    r = subprocess.run([sys.executable, str(REPO / "tests" / "workers" / "measure_cli.py"), "--data-dir",
                        str(data_dir), *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def sparse_export(tmp_path) -> Path:
    p = tmp_path / "ES 03-25.Last.txt"
    p.write_bytes(export_bytes())
    os.truncate(p, TWO_GB)  # sparse: 2 GB long, a few KB on disk
    return p


def test_importing_a_2_gb_sparse_export_is_refused_unread_under_500_mb(settings, sparse_export):
    before = folder_digest(settings.data_dir)
    for cmd in (["import", str(sparse_export), "ES1", "--tz", NY], ["verify", str(sparse_export), "ES1", "--tz", NY]):
        r = cli(settings.data_dir, *cmd)
        assert r["code"] == 2, r
        assert "ES 03-25.Last.txt: the file is 2.0 GiB, more than the 1.0 GiB" in r["stderr"]
        assert r["peak_mb"] < LIMIT_MB, f"{cmd[0]} of a 2 GB sparse file peaked at {r['peak_mb']:.0f} MB"
    assert folder_digest(settings.data_dir) == before


def test_an_export_that_ends_in_nul_bytes_is_refused_naming_the_file(settings, tmp_path):
    p = tmp_path / "ES 03-25.Last.txt"
    p.write_bytes(export_bytes())
    os.truncate(p, p.stat().st_size + 10 * 1024**2)  # extended by 10 MB of zeros
    before = folder_digest(settings.data_dir)
    with pytest.raises(InputError, match=r"ES 03-25\.Last\.txt: the last 64\.0 KiB|ES 03-25\.Last\.txt: the last .* NUL"):
        read_input(p)
    with pytest.raises(InputError, match=r"are NUL bytes, not text"):  # an upload: bytes already in memory
        ImportDraft(settings, p.read_bytes(), p.name)
    assert folder_digest(settings.data_dir) == before


def test_a_utf16_export_still_gets_the_parsers_own_message(settings, tmp_path):
    p = tmp_path / "ES 03-25.Last.txt"
    p.write_bytes(export_bytes().decode().encode("utf-16-le"))
    with pytest.raises(InputError, match="NUL byte in the text; expected plain UTF-8 text"):
        ImportDraft(settings, read_input(p)[0], p.name)


def test_a_master_extended_to_2_gb_is_reported_damaged_under_500_mb_and_never_written(settings, store, week_bars,
                                                                                      sparse_export):
    store.write("ES1", "1m", week_bars, operation="import")
    master = settings.bar_path("ES1", "1m")
    os.truncate(master, TWO_GB)
    before = folder_digest(settings.data_dir)
    status = cli(settings.data_dir, "status", "--json")
    assert status["peak_mb"] < LIMIT_MB and status["code"] in (0, 1), status
    flags = {f["name"]: f["flags"] for f in json.loads(status["stdout"])["files"]}
    assert any("footer" in fl or "damaged" in fl for fl in flags["ES1_1m.parquet"]), flags
    health = cli(settings.data_dir, "health", "ES1")
    assert health["peak_mb"] < LIMIT_MB, health
    assert "file damaged: ES1_1m.parquet" in health["stdout"] + health["stderr"], health
    small = sparse_export.with_name("ES 01-25.Last.txt")
    small.write_bytes(export_bytes())
    imp = cli(settings.data_dir, "import", str(small), "ES1", "--tz", NY)
    assert imp["peak_mb"] < LIMIT_MB and imp["code"] != 0, imp
    assert "file damaged: ES1_1m.parquet" in imp["stderr"], imp
    assert folder_digest(settings.data_dir) == before
    with pytest.raises(Exception, match="file damaged"):
        Store(settings).read("ES1", "1m")
