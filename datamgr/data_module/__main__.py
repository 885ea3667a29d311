"""``python -m datamgr.data_module``: the document's command line, mapped onto ``python -m datamgr``.

=============================================  ==========================================================
``--live``                                     ``live start --source smartapi --symbols NIFTY,BANKNIFTY``
``--historical SYMBOL TOKEN [INTERVAL DAYS]``  ``history fetch SYMBOL TOKEN [INTERVAL [DAYS]]``
``--update SYMBOL TOKEN [INTERVAL]``           ``history update SYMBOL TOKEN [INTERVAL]``
``--test``                                     ``history check``
=============================================  ==========================================================

``--data-dir``, ``--config`` and ``--json`` pass through. The command runs as a child process (the
CLI sits above this package in the house plan), with its exit code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from datamgr.data_module.live_feed import DEFAULT_SOURCE, DEFAULT_SYMBOLS, SOURCE_ENV, SYMBOLS_ENV


def translate(argv: list[str]) -> list[str]:
    """The ``python -m datamgr`` arguments for the document's flags (usage errors exit 2)."""
    p = argparse.ArgumentParser(prog="python -m datamgr.data_module", description="The Data Module's command line.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--live", action="store_true", help="start the live feed (SmartAPI NIFTY, BANKNIFTY by default)")
    g.add_argument("--historical", nargs="+", metavar="ARG", help="SYMBOL TOKEN [INTERVAL DAYS]: fetch and store")
    g.add_argument("--update", nargs="+", metavar="ARG", help="SYMBOL TOKEN [INTERVAL]: fetch the newest candles")
    g.add_argument("--test", action="store_true", help="self-test (instruments, calendar, credentials)")
    p.add_argument("--data-dir")
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    glob = [x for flag, v in (("--data-dir", a.data_dir), ("--config", a.config)) if v for x in (flag, v)]
    glob += ["--json"] if a.json else []
    if a.live:
        symbols = os.environ.get(SYMBOLS_ENV) or ",".join(DEFAULT_SYMBOLS)
        return [*glob, "live", "start", "--source", os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE, "--symbols", symbols]
    if a.test:
        return [*glob, "history", "check"]
    if a.historical is not None:
        if not 2 <= len(a.historical) <= 4:
            p.error("--historical takes SYMBOL TOKEN [INTERVAL DAYS]")
        return [*glob, "history", "fetch", *a.historical]
    if not 2 <= len(a.update) <= 3:
        p.error("--update takes SYMBOL TOKEN [INTERVAL]")
    return [*glob, "history", "update", *a.update]


def main(argv: list[str] | None = None) -> int:
    args = translate(sys.argv[1:] if argv is None else argv)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    return subprocess.call([sys.executable, "-m", "datamgr", *args], env=env)


if __name__ == "__main__":
    sys.exit(main())
