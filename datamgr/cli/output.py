"""CLI commands: one module per command, each exposing ``add_parser(subparsers)``.

``add_parser`` sets ``func=run`` with ``run(args, settings) -> int``; ``run`` prints through
:func:`emit` (one JSON object with ``--json``, text otherwise).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(args: Any, payload: dict[str, Any], text: str) -> None:
    """Print ``payload`` as one JSON object (``--json``) or ``text`` for a person."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")


def progress_printer(args: Any):
    """A progress callback that draws on stderr when it is a TTY (off otherwise and with --json)."""
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, message: str) -> None:
        width = 30
        frac = done / total if total else 0
        bar = "#" * int(frac * width)
        sys.stderr.write(f"\r[{bar:<{width}}] {frac:4.0%} {message[:60]:<60}")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def fmt_size(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    cols = [header, *rows]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def fmt_size_change(before: int, after: int) -> str:
    """``12.3 MB -> 11.9 MB (-0.4 MB)``: the file size change a dry run prints."""
    diff = after - before
    sign = "+" if diff >= 0 else "-"
    return f"{fmt_size(before)} -> {fmt_size(after)} ({sign}{fmt_size(abs(diff))})"


#: library parameter -> CLI flag, for errors raised by the library (which name its parameters)
FLAG_NAMES = {"start": "--from", "end": "--to", "fmt": "--format", "dest": "--out", "timeframe": "TIMEFRAME",
              "confirm": "--yes"}


def flagged(err: Exception) -> Exception:
    """The same error with the library parameter in its message replaced by the CLI flag."""
    name = getattr(err, "field", None)
    if name in FLAG_NAMES and str(err).startswith(f"{name}="):
        err.args = (FLAG_NAMES[name] + " " + str(err)[len(name) + 1:], *err.args[1:])
    return err


def dry_run_size(settings: Any, ticker: str, timeframe: str, plan: Any) -> dict[str, int] | None:
    """``{"size_before", "size_after"}`` of the file a dry-run merge plan would write (seed 4.2:
    dry runs print the file size change), or None when there is no plan."""
    if plan is None:
        return None
    path = settings.bar_path(ticker, timeframe)
    before = path.stat().st_size if path.is_file() else 0
    from datamgr.store.store import parquet_size  # heavy (polars): only for a plan's sizes

    return {"size_before": before, "size_after": parquet_size(plan.result)}
