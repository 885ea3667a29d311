"""Figures and page wording of the import page (overlap chart, plan chart, messages for buttons)."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import polars as pl

# CLI flags in library/CLI messages -> what the Import page offers instead
_FLAG_TEXT = (
    (re.compile(r're-run with --tz "?([^"\s]+)"? --stamp (\w+)'), r'press "Use \1 (\2 stamps)"'),
    (re.compile(r"re-run with --tz \"?([^\"\s]+)\"?"), r'choose \1 as the "Export time zone"'),
    (re.compile(r"re-run with --yes to confirm"), "type the count below to confirm"),
    (re.compile(r"confirm with confirm=(\d+)"), r"type \1 below to confirm"),
    (re.compile(r"--force"), 'the "Import despite a FAIL verdict" box'),
    (re.compile(r"--yes"), "the typed confirmation"),
    (re.compile(r"--remember"), 'the "Remember" button'),
    (re.compile(r"--tz"), 'the "Export time zone" choice'),
    (re.compile(r"--stamp"), 'the "Bar stamps" choice'),
    (re.compile(r"--replace"), "a replace range"),
    (re.compile(r"--strict"), "strict mode"),
)


_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def literal(text: str) -> str:
    """``text`` escaped for Streamlit markdown so it shows as typed: every ASCII punctuation
    character gets a backslash (CommonMark allows that for all of them), so no emphasis, link,
    autolink (``http\\://``), ``:material/..:`` icon, ``$`` math or HTML can come of it. For
    user-chosen text such as an uploaded file's name."""
    return _MD_PUNCT.sub(r"\\\1", text)


def with_literal(message: str, name: str) -> str:
    """``message`` with every occurrence of ``name`` (an uploaded file's name) made literal."""
    return message.replace(name, literal(name)) if name else message


def page_text(message: str) -> str:
    """A library/CLI message worded for the Import page: buttons and fields, never CLI flags."""
    for pat, repl in _FLAG_TEXT:
        message = pat.sub(repl, message)
    return message


def overlap_figure(frame: pl.DataFrame) -> go.Figure:
    """Existing vs incoming closes (``ImportDraft.overlap``)."""
    fig = go.Figure()
    fig.add_scatter(x=frame["datetime"].to_list(), y=frame["existing"].to_list(), name="existing", mode="lines")
    fig.add_scatter(x=frame["datetime"].to_list(), y=frame["incoming"].to_list(), name="new", mode="lines",
                    line={"dash": "dot"})
    fig.update_layout(height=300, margin={"t": 20, "b": 20}, xaxis_title="ET", yaxis_title="close")
    return fig


def plan_figure(frame: pl.DataFrame) -> go.Figure:
    """The minutes a plan replaces or removes (``ImportDraft.changed_frame``), zoomed to them.

    Existing and incoming closes as lines; the changed minutes as red markers on the existing
    close; the x axis spans the changed minutes (plus the frame's padding).
    """
    fig = overlap_figure(frame)
    ch = frame.filter(pl.col("changed"))
    fig.add_scatter(x=ch["datetime"].to_list(), y=ch["existing"].to_list(), name="replaced / removed",
                    mode="markers", marker={"color": "crimson", "size": 6, "symbol": "x"})
    if ch.height:
        fig.update_xaxes(range=[frame["datetime"].min(), frame["datetime"].max()])
    fig.update_layout(title={"text": f"{ch.height:,} existing minute(s) change", "x": 0.01}, margin={"t": 40})
    return fig
