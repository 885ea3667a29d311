"""Mutation testing of the core modules with mutmut, one module at a time, against its own tests.

Usage::

    nice -n 19 python tools/mutation.py                  # every core module
    nice -n 19 python tools/mutation.py merge calendar   # some of them
    python tools/mutation.py --list                      # modules and their test files
    python tools/mutation.py --report                    # scores of the last runs, no run

For each module a scratch copy of the repository (``datamgr/``, ``tests/``, ``pyproject.toml``)
is made under ``--work`` (default ``/tmp/datamgr-mutation/<module>``) with a ``[tool.mutmut]``
section that mutates only that module's file(s) and runs only that module's test files; mutmut
forks one child per mutant (``--max-children``, default 1: the machine is shared). The score is
``killed / (killed + survived)``; mutants that time out count as killed (mutmut's convention: the
tests noticed), mutants no test reaches ("no tests") count as survivors. ``--sample N`` runs a
deterministic sample of N mutants of a module instead of all of them (said in the output).

Surviving mutants are listed per module (``--survivors``); the ones that are equivalent are
explained in docs/mutation.md.

polars' thread pool does not survive a fork, so mutmut forks each mutant from a fork server that
has only imported third-party modules (``process_isolation = "forkserver"``, warm-up ``import``
of :data:`PRELOAD`; importing polars starts no thread, using it does).
The calendar caches its schedules (``lru_cache``): the pytest plugin ``tools/mutation_plugin.py``
clears those caches at the start of every test session, and before every test when the calendar
itself is mutated (otherwise only the first test that built a schedule would run its mutants).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable

PRELOAD = ("numpy", "polars", "pyarrow", "pyarrow.parquet", "pandas", "pandas_market_calendars", "filelock",
           "hypothesis", "zoneinfo", "tomllib")

# module key -> (files to mutate, test files that are the module's own)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "merge": (["datamgr/store/merge.py"],
              ["tests/store/test_merge_properties.py", "tests/store/test_merge_boundaries.py"]),
    "verify": (["datamgr/ingest/ninjatrader/verify.py"],
               ["tests/ingest/test_verify_boundaries.py", "tests/ingest/test_nt_import_flow.py"]),
    "calendar": (["datamgr/calendar/sessions.py", "datamgr/calendar/cache.py", "datamgr/calendar/overrides.py"],
                 ["tests/calendar/test_calendar_sessions.py", "tests/calendar/test_calendar_golden.py",
                  "tests/calendar/test_calendar_boundaries.py", "tests/calendar/test_calendar_cache.py"]),
    "store": (["datamgr/store/store.py"],
              ["tests/store/test_store.py", "tests/store/test_store_boundaries.py",
               "tests/store/test_store_keep_prefix.py", "tests/store/test_read_back_compare.py"]),
    "gaps": (["datamgr/health/gaps.py"],
             ["tests/health/test_health_gaps.py", "tests/health/test_gaps_boundaries.py"]),
    "resample": (["datamgr/derived/resample.py"],
                 ["tests/derived/test_resample.py", "tests/derived/test_resample_boundaries.py"]),
    "validate": (["datamgr/ingest/validate.py"],
                 ["tests/ingest/test_validate.py", "tests/ingest/test_validate_boundaries.py"]),
    "parser": (["datamgr/ingest/ninjatrader/parse.py", "datamgr/ingest/ninjatrader/place.py"],
               ["tests/ingest/test_ninjatrader_formats.py", "tests/ingest/test_nt_bad_input.py",
                "tests/ingest/test_parser_boundaries.py"]),
}


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare(key: str, work: Path) -> Path:
    """A scratch copy of the repository configured to mutate one module."""
    files, tests = MODULES[key]
    tests = [t for t in tests if (REPO / t).is_file()]
    d = work / key
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "e2e")
    shutil.copytree(REPO / "datamgr", d / "datamgr", ignore=ignore)
    shutil.copytree(REPO / "tests", d / "tests", ignore=ignore)
    for extra in ("scripts", "tools"):  # some tests run them (CLI scripts, the golden-file generator)
        shutil.copytree(REPO / extra, d / extra, ignore=ignore)
    shutil.copy(REPO / "tools" / "mutation_plugin.py", d / "mutation_plugin.py")
    # third-party modules only (importing them starts no thread); never datamgr, whose mutated copy
    # must be the one each mutant imports
    (d / "mutation_preload.txt").write_text("\n".join(PRELOAD) + "\n", encoding="utf-8")
    per_test = any(f.startswith("datamgr/calendar/") for f in files)
    (d / "mutation_options.json").write_text(json.dumps({"clear_calendar_cache": "test" if per_test else "session"}),
                                             encoding="utf-8")
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    text += ("\n[tool.mutmut]\n"
             f"source_paths = [\"datamgr\"]\n"
             f"only_mutate = {_toml_list(files)}\n"
             f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
             "pytest_add_cli_args = [\"-p\", \"mutation_plugin\", \"-p\", \"no:xdist\", \"-q\"]\n"
             "also_copy = [\"mutation_plugin.py\", \"mutation_preload.txt\", \"mutation_options.json\", \"scripts\", "
             "\"tools\"]\n"
             "process_isolation = \"forkserver\"\n"
             "forkserver_warmup = \"import\"\n"
             "preload_modules_file = \"mutation_preload.txt\"\n"
             "use_git_change_detection = false\n"
             "track_dependencies = false\n")
    (d / "pyproject.toml").write_text(text, encoding="utf-8")
    return d


def _mutmut(d: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": "."}
    return subprocess.run([PY, "-m", "mutmut", *args], cwd=d, env=env, text=True, capture_output=True,
                          timeout=timeout)


def _all_mutants(d: Path) -> list[str]:
    """Names of every mutant mutmut generated (from its ``.meta`` files)."""
    names: list[str] = []
    for meta in sorted((d / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        names += list(data.get("exit_code_by_key", {}))
    return sorted(names)


def run(key: str, work: Path, max_children: int, sample: int | None, seed: int) -> dict:
    d = prepare(key, work)
    chosen: list[str] = []
    if sample:
        # generate the mutants (and the stats) with a run of no mutant, then sample names
        _mutmut(d, "run", "--max-children", str(max_children), "xx_no_such_mutant_xx")  # fails after stats
        names = _all_mutants(d)
        if len(names) > sample:
            chosen = sorted(random.Random(seed).sample(names, sample))
    proc = _mutmut(d, "run", "--max-children", str(max_children), *chosen)
    (d / "mutmut-run.log").write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    res = results(key, work, only=chosen or None)
    res["sampled"] = len(chosen) if chosen else None
    return res


def results(key: str, work: Path, only: list[str] | None = None) -> dict:
    """Score of a module from mutmut's ``.meta`` files (exit code per mutant)."""
    d = work / key
    codes: dict[str, int | None] = {}
    for meta in sorted((d / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes.update(data.get("exit_code_by_key", {}))
    if only:
        codes = {k: v for k, v in codes.items() if k in set(only)}
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of its exit codes

    counts: dict[str, int] = {}
    survivors: list[str] = []
    for name, code in codes.items():
        status = status_by_exit_code[code]
        counts[status] = counts.get(status, 0) + 1
        if status in ("survived", "no tests"):
            survivors.append(name)
    killed = counts.get("killed", 0) + counts.get("caught by type check", 0)
    timeout = counts.get("timeout", 0)
    survived, no_tests = counts.get("survived", 0), counts.get("no tests", 0)
    not_run = counts.get("not checked", 0) + counts.get("skipped", 0)
    total = sum(counts.values()) - not_run  # mutmut's badge: killed + timeout over all tested
    score = (killed + timeout) / total if total else 0.0
    return {"module": key, "mutants": total, "killed": killed, "timeout": timeout, "survived": survived,
            "no_tests": no_tests, "not_run": not_run, "other": total - killed - timeout - survived - no_tests,
            "score": score, "survivors": sorted(survivors)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default: all)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/datamgr-mutation"))
    ap.add_argument("--max-children", type=int, default=1)
    ap.add_argument("--sample", type=int, default=None, help="run a sample of N mutants per module")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="print modules and test files, run nothing")
    ap.add_argument("--report", action="store_true", help="print the scores of the last runs, run nothing")
    ap.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    keys = args.modules or list(MODULES)
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {unknown}; expected some of {', '.join(MODULES)}")
    if args.list:
        for k in keys:
            print(f"{k:9s} mutate {' '.join(MODULES[k][0])}\n{'':9s} tests  {' '.join(MODULES[k][1])}")
        return 0
    out = []
    for k in keys:
        r = results(k, args.work) if args.report else run(k, args.work, args.max_children, args.sample, args.seed)
        out.append(r)
        sampled = f" (sample of {r['sampled']})" if r.get("sampled") else ""
        print(f"{k:9s} {r['score']:6.1%}  killed {r['killed'] + r['timeout']:4d} / {r['mutants']:4d}"
              f"  survived {r['survived']:3d}  no tests {r['no_tests']:3d}{sampled}", flush=True)
        if args.survivors:
            for s in r["survivors"]:
                print(f"          survivor {s}")
    if args.json:
        print(json.dumps(out, indent=1))
    bad = [r["module"] for r in out if r["score"] < 0.8]
    if bad:
        print(f"below 80%: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
