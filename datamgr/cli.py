"""``python -m datamgr``: the command line over the library.

Exit codes (SPEC 13): 0 done / check passed, 1 check failed, 2 bad input or usage,
3 locked by another writer. Logging goes to stderr; ``--json`` prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .config import Settings
from .errors import DataMgrError

# One line per command module (datamgr/commands/<name>.py).
COMMANDS = [
    "status",
    "demo",
    "journal",
    "backup",
    "regenerate",
]

log = logging.getLogger("datamgr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datamgr", description="Market-data manager for futures traders.")
    parser.add_argument("--data-dir", help="data folder (default ./data, env DATAMGR_DATA_DIR)")
    parser.add_argument("--config", help="datamgr.toml (default ./datamgr.toml if present)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"datamgr.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Global flags may also follow the command: parse them wherever they are.
    args, rest = parser.parse_known_args(argv)
    if rest:
        again = argparse.ArgumentParser(add_help=False)
        again.add_argument("--data-dir")
        again.add_argument("--config")
        again.add_argument("--json", action="store_true")
        extra, unknown = again.parse_known_args(rest)
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        for k in ("data_dir", "config"):
            if getattr(extra, k):
                setattr(args, k, getattr(extra, k))
        args.json = args.json or extra.json
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = Settings.load(data_dir=args.data_dir, config=args.config)
        return int(args.func(args, settings))
    except DataMgrError as err:
        sys.stderr.write(f"error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
