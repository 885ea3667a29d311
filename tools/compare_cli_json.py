"""Compare the ``--json`` answers of every CLI command between two checkouts (a refactor changes none).

Usage::

    python tools/compare_cli_json.py OLD_CHECKOUT [NEW_CHECKOUT]   (NEW defaults to this checkout)

Builds one demo folder and one NinjaTrader-style export with the NEW checkout, then runs every
command with ``--json`` from each checkout on its own copy of that folder (same inputs, same order)
and compares the answers after blanking what differs by nature between two runs (write times,
operation ids, backup names, temp paths, feed pids). Exit 1 and a diff on any difference.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
# (name, argv after the global flags); "{export}" is the export file
COMMANDS = [
    ("status", ["status"]),
    ("journal", ["journal", "--limit", "50"]),
    ("backup list", ["backup", "list"]),
    ("backup verify", ["backup", "verify"]),
    ("backup prune", ["backup", "prune"]),
    ("verify", ["verify", "{export}", "ES1", "--tz", "UTC"]),
    ("verify wrong zone", ["verify", "{export}", "ES1", "--tz", "Asia/Tokyo"]),
    ("import dry-run", ["import", "{export}", "ES1", "1m", "--tz", "UTC", "--dry-run"]),
    ("continuity", ["continuity", "ES1"]),
    ("continuity year", ["continuity", "ES1", "--year", "2025", "--gap", "3"]),
    ("health", ["health", "ES1"]),
    ("regenerate dry-run", ["regenerate", "ES1", "--dry-run"]),
    ("regenerate", ["regenerate", "ES1", "--full"]),
    ("live status", ["live", "status"]),
    ("import", ["import", "{export}", "ES1", "1m", "--tz", "UTC", "--no-derived"]),
    ("status after import", ["status"]),
    ("journal after import", ["journal", "--limit", "50"]),
    ("update from file dry-run", ["update", "ES1", "--from-file", "{yahoo}", "--interval", "1d", "--dry-run"]),
    ("bad verify", ["verify", "{garbage}", "ES1"]),
]
VOLATILE = re.compile(r'"(last_updated|mtime|at|time|started_at|created|seconds|elapsed|id|op_id|backup|'
                      r'backups_made|path|file|data_age_seconds|now|written_at|prepare_seconds|'
                      r'acknowledged_at|quarantine_file|age|timings)": ("[^"]*"|[0-9.eE+-]+)')


def run(checkout: Path, data: Path, argv: list[str]) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(data), "--json", *argv],
                       cwd=checkout, capture_output=True, text=True, timeout=600,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(data.parent), "PYTHONPATH": str(checkout)})
    return r.returncode, r.stdout, r.stderr


def normalise(text: str, data: Path) -> str:
    text = text.replace(str(data), "<DATA>")
    text = VOLATILE.sub(lambda m: f'"{m.group(1)}": "<v>"', text)
    try:
        return json.dumps(json.loads(text), indent=1, sort_keys=True)
    except json.JSONDecodeError:
        return text


def main() -> int:
    old = Path(sys.argv[1]).resolve()
    new = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else HERE
    work = Path(tempfile.mkdtemp(prefix="cli-json-"))
    seed = work / "seed"
    subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(seed), "demo", "ES1", "--months", "2",
                    "--end", "2025-06-27"], cwd=new, check=True, capture_output=True)
    export = work / "ES1 export.txt"
    make = ("import sys; from datamgr.core.config import Settings; from datamgr.store.store import Store;"
            "b = Store(Settings.load(data_dir=sys.argv[1], env={})).read('ES1', '1m').tail(3000);"
            "f = open(sys.argv[2], 'w');"
            "[f.write(f\"{(t + __import__('datetime').timedelta(minutes=1)).strftime('%Y%m%d %H%M%S')};"
            "{o};{h};{lo};{c};{v}\\n\") for t, o, h, lo, c, v in b.select("
            "'datetime', 'open', 'high', 'low', 'close', 'volume').iter_rows()]")
    subprocess.run([sys.executable, "-c", make, str(seed), str(export)], cwd=new, check=True)
    yahoo = work / "yahoo.csv"
    yahoo.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2025-06-26,6000,6010,5990,6005,6005,100000\n")
    garbage = work / "garbage.txt"
    garbage.write_text("this is not an export\n")
    subs = {"{export}": str(export), "{yahoo}": str(yahoo), "{garbage}": str(garbage)}
    folders = {}
    for side in ("old", "new"):
        folders[side] = work / side / "data"
        shutil.copytree(seed, folders[side])
    diffs = 0
    for name, argv in COMMANDS:
        argv = [subs.get(a, a) for a in argv]
        out = {}
        for side, checkout in (("old", old), ("new", new)):
            rc, so, se = run(checkout, folders[side], argv)
            out[side] = (rc, normalise(so, folders[side]), re.sub(r"\S*cli-json-\S*", "<P>", se.strip()[-300:]))
        same = out["old"][:2] == out["new"][:2]
        diffs += not same
        print(f"{'same' if same else 'DIFFERENT':9} rc={out['new'][0]} {name}")
        if not same:
            for side in ("old", "new"):
                print(f"  {side}: rc={out[side][0]} {out[side][1][:2000]}\n  stderr: {out[side][2]}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(COMMANDS) - diffs} of {len(COMMANDS)} commands answer the same")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
