"""Reading an input file (an export, a saved yfinance file) without ever loading a huge one.

An input file is read whole (the parsers work on bytes), so before that happens:

* a file larger than :data:`MAX_INPUT_BYTES` (1 GiB) is refused from its size alone (``stat``),
  nothing read: a 2 GB file -- a real one, or a sparse one made by extending a file -- never
  reaches memory. Eighteen years of NinjaTrader minutes are ~350 MB; a bigger export is split
  by date range in NinjaTrader's Export Data dialog;
* a file that ends in a run of NUL bytes (at least :data:`NUL_RUN`, what a file extended with
  ``truncate`` or a crashed copy leaves; never text, not even UTF-16) is refused after reading its
  last 64 KiB only.

Both refusals are :class:`~datamgr.core.errors.InputError` naming the file, the size and what to
do; they come before anything is parsed or written. The same checks run on bytes already in
memory (an upload on the Import page: Streamlit holds it, :func:`check_input_bytes` keeps it
from being parsed and copied).
"""

from __future__ import annotations

import os
from pathlib import Path

from datamgr.core.errors import InputError

MAX_INPUT_BYTES = 1 << 30
NUL_RUN = 4096
_TAIL = 1 << 16


def _size_text(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def _too_big(name: str, size: int, what: str) -> InputError:
    msg = (f"{name}: the file is {_size_text(size)}, more than the {_size_text(MAX_INPUT_BYTES)} an {what} may have; "
           "nothing was read. Export fewer days at a time (a shorter date range) and import the parts.")
    return InputError(msg, file=name, field="size")


def _nul_tail(name: str, size: int, run: int) -> InputError:
    msg = (f"{name}: the last {_size_text(run)} of the file ({_size_text(size)}) are NUL bytes, not text: the file "
           "was extended or copied incompletely (a sparse or damaged file). Export it again.")
    return InputError(msg, file=name, field="content")


def _trailing_nuls(tail: bytes) -> int:
    return len(tail) - len(tail.rstrip(b"\0"))


def check_input_bytes(data: bytes, name: str, what: str = "export") -> None:
    """Refuse input bytes over :data:`MAX_INPUT_BYTES` or ending in :data:`NUL_RUN` NUL bytes."""
    if len(data) > MAX_INPUT_BYTES:
        raise _too_big(name, len(data), what)
    run = _trailing_nuls(data[-_TAIL:])
    if run >= NUL_RUN:
        raise _nul_tail(name, len(data), run if run < _TAIL else len(data) - len(data.rstrip(b"\0")))


def read_input_file(path: str | Path, what: str = "export") -> bytes:
    """The bytes of an input file given on the command line, checked before they are read.

    Raises
    ------
    InputError
        Not found, a folder, unreadable, larger than :data:`MAX_INPUT_BYTES`, or ending in NUL
        bytes (names the file; nothing read in full).
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_INPUT_BYTES:
                raise _too_big(p.name, size, what)
            f.seek(max(0, size - _TAIL))
            run = _trailing_nuls(f.read(_TAIL))
            if run >= NUL_RUN:
                raise _nul_tail(p.name, size, run)
            f.seek(0)
            return f.read()
    except FileNotFoundError as err:
        raise InputError(f"{p}: file not found", file=str(p)) from err
    except IsADirectoryError as err:
        raise InputError(f"{p}: is a folder; expected a file", file=str(p)) from err
    except OSError as err:
        raise InputError(f"{p}: cannot be read: {err}", file=str(p)) from err
