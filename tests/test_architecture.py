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
