"""The layering rules hold: the library never imports Streamlit; pages never touch files or providers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = sorted((REPO / "datamgr").rglob("*.py"))
PAGES = sorted((REPO / "app_pages").glob("*.py")) + [REPO / "streamlit_app.py"]
PAGE_FORBIDDEN_MODULES = ("pyarrow", "yfinance", "fastparquet", "duckdb")
PAGE_FORBIDDEN_CALLS = {"open", "read_parquet", "scan_parquet", "write_parquet", "to_parquet", "read_csv",
                        "scan_csv", "read_json", "read_table", "write_table", "ParquetFile", "read_text",
                        "write_text", "read_bytes", "write_bytes", "unlink", "rmtree"}


def imported_modules(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def called_names(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            out.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    return out


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_no_library_module_imports_streamlit(path):
    mods = imported_modules(parse(path))
    assert not [m for m in mods if m == "streamlit" or m.startswith("streamlit.")]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_page_reads_files_or_calls_providers_itself(path):
    tree = parse(path)
    mods = imported_modules(tree)
    bad = [m for m in mods if m.split(".")[0] in PAGE_FORBIDDEN_MODULES]
    assert not bad, f"{path.name} imports {bad}"
    polars_io = [m for m in mods if m.startswith("polars.io")]
    assert not polars_io, f"{path.name} imports {polars_io}"
    calls = called_names(tree) & PAGE_FORBIDDEN_CALLS
    assert not calls, f"{path.name} calls {sorted(calls)}: file I/O belongs in datamgr"


def test_the_checks_find_violations_when_there_are_some():
    tree = ast.parse("import pyarrow.parquet as pq\nfrom streamlit import x\nopen('f')\npl.read_parquet(p)\n")
    assert {"pyarrow.parquet", "streamlit"} <= imported_modules(tree)
    assert {"open", "read_parquet"} <= called_names(tree)
    assert len(LIBRARY) > 10 and len(PAGES) >= 9


# ---------------------------------------------------------------------- the house plan (datamgr/__init__.py)
#: package -> layer; an import may only point to a lower layer (or inside its own package)
LAYERS = {"core": 0, "calendar": 1, "store": 2, "ingest": 3, "health": 3, "derived": 3, "live": 3,
          "ops": 4, "plots": 4, "data_module": 5, "cli": 6, "__main__": 7, "": 7}
#: same-or-upward arrows that the plan allows
ALLOWED_ACROSS: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in LIBRARY}


def package_of(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def datamgr_imports(path: Path) -> list[tuple[str, int, bool]]:
    """``(module, line, at_top_level)`` for every import of a datamgr module in ``path``."""
    tree = parse(path)
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("datamgr"):
            names = [f"{node.module}.{a.name}" for a in node.names]
            targets = [n if n in MODULES else node.module for n in names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("datamgr")]
        else:
            continue
        for t in targets:
            while t not in MODULES and "." in t:
                t = t.rsplit(".", 1)[0]
            out.append((t, node.lineno, id(node) in top))
    return out


def import_graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in datamgr_imports(p) if t not in (m, "datamgr")} for m, p in MODULES.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def wrong_arrows(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in graph.items():
        for dst in targets:
            a, b = package_of(src), package_of(dst)
            if a == b or (a, b) in ALLOWED_ACROSS:
                continue
            if LAYERS[b] >= LAYERS[a]:
                bad.append(f"{src} -> {dst} ({a} is layer {LAYERS[a]}, {b} is layer {LAYERS[b]})")
    return sorted(bad)


def test_every_library_package_has_a_layer():
    assert {package_of(m) for m in MODULES} <= set(LAYERS)


def test_the_library_has_no_import_cycles():
    assert find_cycles(import_graph()) == []


def test_imports_point_down_the_house_plan_only():
    assert wrong_arrows(import_graph()) == []


def test_no_function_local_imports_of_datamgr_modules():
    """Except in the CLI's command modules: ``python -m datamgr status`` must start without polars,
    pandas or pandas_market_calendars (issue 13), and cli/main.py imports every command module, so a
    command imports its (heavy) use case inside ``run`` — with a reason, checked below, and still
    subject to the layer and cycle checks (``import_graph`` sees function-local imports too)."""
    local = [f"{module_name(p)}:{line} imports {t}" for p in LIBRARY for t, line, top in datamgr_imports(p)
             if not top and not module_name(p).startswith("datamgr.cli.")]
    assert local == []


def test_function_local_imports_of_other_packages_say_why():
    """Only optional heavy dependencies are imported inside functions, each with a one-line reason."""
    missing = []
    for p in LIBRARY:
        tree = parse(p)
        lines = p.read_text(encoding="utf-8").splitlines()
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                first = node.lineno - 1  # the run of import lines this one belongs to
                while first > 0 and lines[first - 1].strip().startswith(("import ", "from ")):
                    first -= 1
                block = lines[max(first - 1, 0): node.end_lineno]
                if not any("#" in ln for ln in block):
                    missing.append(f"{module_name(p)}:{node.lineno}")
    assert missing == []


def test_the_plan_checks_catch_a_cycle_and_an_upward_arrow():
    assert find_cycles({"datamgr.a.x": {"datamgr.b.y"}, "datamgr.b.y": {"datamgr.a.x"}}) == \
        [["datamgr.a.x", "datamgr.b.y"]]
    assert wrong_arrows({"datamgr.store.store": {"datamgr.ingest.yahoo"}}) == \
        ["datamgr.store.store -> datamgr.ingest.yahoo (store is layer 2, ingest is layer 3)"]
    assert wrong_arrows({"datamgr.ingest.yahoo": {"datamgr.derived.resample"}}) != []
