"""Make the SOP scripts work as written from a fresh shell (``python scripts/...``).

* Run by a Python that is not in a virtual environment (the system ``python``/``python3``) while
  the repository has a ``.venv``: re-run the same command with ``.venv``'s Python, which has the
  requirements installed. Set ``DATAMGR_NO_REEXEC=1`` to turn this off.
* The repository root goes on ``sys.path`` so ``import datamgr`` works from any folder.
* Without the requirements: one clear message saying how to install them (exit 2).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).absolute().parents[1]


def _venv_python() -> Path | None:
    for cand in (ROOT / ".venv" / "bin" / "python", ROOT / ".venv" / "Scripts" / "python.exe"):
        if cand.exists():
            return cand
    return None


def _reexec() -> None:
    if os.environ.get("DATAMGR_NO_REEXEC") or sys.prefix != sys.base_prefix:
        return  # already in a virtual environment (the project's or the user's own)
    py = _venv_python()
    if py is None:
        return
    env = {**os.environ, "DATAMGR_NO_REEXEC": "1"}
    args = [str(py), *sys.argv]
    if os.name == "nt":  # no real exec on Windows
        sys.exit(subprocess.call(args, env=env))
    os.execve(str(py), args, env)


_reexec()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
try:
    import polars  # noqa: F401 - the first requirement a command needs
except ImportError:
    sys.stderr.write(f"error: the requirements are not installed for {sys.executable}. From {ROOT} run:\n"
                     "  python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n"
                     "then run this command again (it uses .venv by itself).\n")
    sys.exit(2)
