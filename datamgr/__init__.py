"""datamgr: market-data management for futures traders (library; never imports Streamlit)."""

from __future__ import annotations

__version__ = "0.1.0"
