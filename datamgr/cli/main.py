"""``python -m datamgr``: the command line over the library.

Exit codes (SPEC 13): 0 done / check passed, 1 check failed, 2 bad input or usage,
3 locked by another writer. Logging goes to stderr; ``--json`` prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from datamgr.cli import (
    backup,
    continuity,
    delete_range,
    demo,
    export,
    health,
    history,
    import_,
    journal,
    live,
    regenerate,
    status,
    update,
    verify,
)
from datamgr.core.config import Settings
from datamgr.core.errors import DataMgrError
from datamgr.store.backup import has_orphan_backups
from datamgr.store.journal import pending as pending_writes

# One line per command module (datamgr/cli/<name>.py), in the order of the help text.
COMMANDS = [status, demo, journal, backup, verify, import_, continuity, health, regenerate, live, update, export,
            delete_range, history]

log = logging.getLogger("datamgr")


def command_name(module) -> str:
    """The command a module of :data:`COMMANDS` adds (``import_`` -> ``import``, ``delete_range``
    -> ``delete-range``)."""
    return module.__name__.rsplit(".", 1)[-1].rstrip("_").replace("_", "-")


def _command_in(argv: list[str]) -> str | None:
    """The command named in ``argv`` (its first word that is not a global flag or a flag's value)."""
    words = iter(argv)
    for w in words:
        if w in ("--data-dir", "--config"):
            next(words, None)
        elif not w.startswith("-"):
            return w
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of ``command`` when it is one (a command's start then
    skips building the 28 sub-parsers it does not use)."""
    parser = argparse.ArgumentParser(prog="python -m datamgr", description="Market-data manager for futures traders.")
    parser.add_argument("--data-dir", help="data folder (default ./data, env DATAMGR_DATA_DIR)")
    parser.add_argument("--config", help="datamgr.toml (default ./datamgr.toml if present)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    known = {command_name(m) for m in COMMANDS}
    for module in COMMANDS:
        if command not in known or command_name(module) == command:
            module.add_parser(sub)
    _add_global_flags(sub)
    return parser


def _add_global_flags(sub: argparse._SubParsersAction) -> None:
    """Accept the global flags after the command too (``status --json --data-dir D``).

    Added to every (nested) sub-parser with ``default=SUPPRESS``, so a flag given before the
    command is not reset by the sub-parser when it is absent after it.
    """
    flags = [(("--data-dir",), {}), (("--config",), {}), (("--json",), {"action": "store_true"}),
             (("-v", "--verbose"), {"action": "store_true"})]
    for p in sub.choices.values():
        for opts, kw in flags:
            if not any(o in p._option_string_actions for o in opts):
                p.add_argument(*opts, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kw)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_global_flags(action)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)  # usage errors exit 2 (argparse)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = Settings.load(data_dir=args.data_dir, config=args.config)
        # every start: finish the journal of an interrupted write (checked without polars: status stays light)
        if Path(settings.data_dir).is_dir() and (pending_writes(settings) or has_orphan_backups(settings)):
            from datamgr.store.store import Store  # heavy: polars, only when there is a write to reconcile

            Store(settings).recover()
        return int(args.func(args, settings))
    except DataMgrError as err:
        sys.stderr.write(f"error: {err}\n")
        return err.exit_code
    except OSError as err:  # the data folder itself: permissions, missing drive, ...
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        sys.stderr.write(f"error: {where}{err.strerror or err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
