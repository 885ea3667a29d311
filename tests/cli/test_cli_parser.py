"""A command's start builds only its own sub-parser (issue 13: a light CLI start): every command
parses exactly as with the full parser, and help and usage errors still see every command."""

from __future__ import annotations

import argparse

import pytest

from datamgr.cli.main import COMMANDS, _command_in, build_parser, command_name, main

ARGV = [
    ["status", "--json"], ["--data-dir", "d", "status"], ["--json", "--config", "c.toml", "journal", "--limit", "5"],
    ["demo", "ES1"], ["backup", "list"], ["backup", "prune", "--yes"], ["verify", "x.txt", "ES1", "--tz", "UTC"],
    ["import", "x.txt", "ES1", "--dry-run"], ["continuity", "ES1", "--year", "2024"],
    ["health", "ES1"], ["regenerate", "ES1", "--full"], ["live", "status"], ["update", "ES1"],
    ["export", "ES1", "5m", "--from", "2024-01-02", "--to", "2024-01-05", "--out", "o.csv"], ["delete-range", "ES1", "--from", "2024-01-02", "--to", "2024-01-03"],
    ["history", "files"], ["status", "--data-dir", "d", "--json"],
]


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> dict:
    ns = vars(parser.parse_args(argv))
    return {k: (getattr(v, "__qualname__", v) if callable(v) else v) for k, v in ns.items()}


@pytest.mark.parametrize("argv", ARGV, ids=lambda a: " ".join(a))
def test_a_command_parses_the_same_with_only_its_own_sub_parser(argv):
    name = _command_in(argv)
    assert name in {command_name(m) for m in COMMANDS}
    only = build_parser(name)
    assert set(only._subparsers._group_actions[0].choices) == {name}
    assert _parse(only, argv) == _parse(build_parser(), argv)


def test_every_command_module_is_named_and_covered():
    assert {command_name(m) for m in COMMANDS} == {_command_in(a) for a in ARGV}


def test_help_and_an_unknown_command_still_list_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(command_name(m) in out for m in COMMANDS)
    with pytest.raises(SystemExit) as e:
        main(["--data-dir", "d", "statsu"])
    assert e.value.code == 2 and "invalid choice: 'statsu'" in capsys.readouterr().err
