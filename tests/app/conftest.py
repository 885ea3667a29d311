"""AppTest fixtures for the pages.

How pages are run under ``streamlit.testing.v1.AppTest`` (what works, found by trying):

* ``AppTest.from_file(str(PAGES / "inventory.py"))`` runs one page script directly, without the
  router; the repo root is on ``sys.path`` (pyproject ``pythonpath = ["."]``), so the page's
  ``from app_pages._common import ...`` resolves. Paths are given absolute: relative ones resolve
  against the calling file.
* Pages get their data folder from ``Settings.load()`` -> ``DATAMGR_DATA_DIR``; set it with
  ``monkeypatch.setenv``. ``app_pages/_common.py`` caches Settings with ``st.cache_resource``, and
  that cache lives in the test process across AppTest instances, so it is cleared before and
  after every test (``st.cache_resource.clear()``), otherwise a test sees the previous test's folder.
* The tests run with a working folder that holds no ``datamgr.toml``.
* ``AppTest.from_file(str(REPO / "streamlit_app.py"))`` runs the router too: ``st.navigation``
  executes the default page (Inventory).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "app_pages"


@pytest.fixture
def app_data(tmp_path, monkeypatch):
    """An empty data folder the pages will use; the Settings cache is cleared around the test."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(d))
    monkeypatch.delenv("DATAMGR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()
    yield d
    st.cache_resource.clear()


@pytest.fixture
def page_test():
    """``page_test("inventory")`` -> an AppTest of ``app_pages/inventory.py`` (not yet run)."""

    def make(name: str) -> AppTest:
        return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)

    return make
