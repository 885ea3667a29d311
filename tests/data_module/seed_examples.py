"""The second requirements document's code examples, run as written but for their import lines.

``seed_003_data_module.md`` is a verbatim copy of ``shared/seeds/003_*.txt`` (a test checks it
still is when the seed is present). :func:`block` finds a ```python block by a line it contains;
:func:`run` executes it in a namespace after the only change allowed: the import lines
``from modules.data_module import`` -> ``from datamgr import`` and
``from modules.logger_module import get_logger`` -> ``from logging import getLogger as get_logger``.
``__name__`` is not ``"__main__"``, so the examples' endless ``if __name__ == "__main__"`` loops
do not start; the tests call their functions and classes instead.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

DOC = Path(__file__).with_name("seed_003_data_module.md")
IMPORTS = {
    "from modules.data_module import": "from datamgr import",
    "from modules.logger_module import get_logger": "from logging import getLogger as get_logger",
}


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def block(containing: str, nth: int = 0) -> str:
    """The ``nth`` python block of the document that contains the text ``containing``."""
    found = [b for b in blocks() if containing in b]
    assert len(found) > nth, f"no python block #{nth} containing {containing!r} in {DOC.name}"
    return found[nth]


def adapt(code: str) -> str:
    """Only the import lines change."""
    out = []
    for line in textwrap.dedent(code).splitlines():
        for old, new in IMPORTS.items():
            if line.lstrip().startswith(old):
                line = line.replace(old, new)
        out.append(line)
    return "\n".join(out) + "\n"


def run(code: str, ns: dict | None = None) -> dict:
    """Execute a (block of) example code in ``ns`` (a fresh namespace by default); returns it."""
    ns = {"__name__": "seed_example"} if ns is None else ns
    exec(compile(adapt(code), str(DOC), "exec"), ns)  # noqa: S102 - the document's own examples
    return ns
