"""Run one CLI command in this process and report its exit code and peak memory as JSON on the last
line of stdout: ``measure_cli.py ARG...`` (the arguments of ``python -m datamgr``)."""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
from pathlib import Path

import _common  # noqa: F401

from datamgr.cli.main import main as cli


def peak_rss_kb() -> int:
    """Peak RSS of this process in KiB: ``VmHWM`` (Linux: the high-water mark of this program's own
    memory, reset by exec), else ``ru_maxrss`` -- which on Linux also carries the peak of the
    process that forked us (a big test worker), so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli(sys.argv[1:])
        except SystemExit as exc:
            code = exc.code
    peak_kb = peak_rss_kb()
    print(json.dumps({"code": code, "peak_mb": peak_kb / 1024, "stdout": out.getvalue()[-4000:],
                      "stderr": err.getvalue()[-4000:]}))


if __name__ == "__main__":
    main()
