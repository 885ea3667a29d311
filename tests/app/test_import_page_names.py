"""Issue 11 (Low): an uploaded file's name is shown as typed on the Import page, never rendered as
markdown. Every text element of the page that renders markdown (headers, alerts, captions, toasts,
job labels) is rendered here by a CommonMark + GFM renderer with autolinks (markdown-it-py, what
Streamlit's ``react-markdown`` + ``remark-gfm`` follow): the name comes out as plain text, with no
emphasis and no link."""

from __future__ import annotations

import datetime as dt
import html
import re

import linkify_it  # noqa: F401 - the "gfm-like" preset's autolinks need it (requirements-dev)
import markdown_it

from datamgr.core.config import Settings
from tests.ingest.nt_builders import render_fast, session_bars

NAME = "**x**[a](http://e) _y_ `z` :material/home: $1$ <b>h</b> www.e.com.txt"
FORBIDDEN = ('href="http://e"', 'href="http://www.e.com', "<strong>x</strong>", "<em>y</em>", "<code>z</code>",
             "<b>h</b>", "<span")
KINDS = ("title", "header", "subheader", "markdown", "caption", "success", "error", "warning", "info", "toast",
         "status")


def rendered(source: str) -> str:
    return markdown_it.MarkdownIt("gfm-like").render(source)


def plain(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text)).strip()


def markdown_sources(at) -> list[str]:
    out = []
    for kind in KINDS:
        for e in getattr(at, kind, []):
            out.append(str(getattr(e, "label", None) or e.value) if kind == "status" else str(e.value))
    return out


def assert_shown_literally(at) -> None:
    mentions = 0
    for src in markdown_sources(at):
        out = rendered(src)
        made = [f for f in FORBIDDEN if f in out]  # what the name would turn into as markdown
        assert not made, (src, out)
        if NAME in plain(out):
            mentions += 1
    assert mentions >= 1


def test_an_uploaded_file_name_is_shown_as_plain_text_never_as_markdown(app_data, page_test):
    tz = Settings.load(data_dir=app_data, env={}).instrument("ES1").import_tz
    data = render_fast(session_bars("CME Globex Equity", dt.date(2025, 1, 6), dt.date(2025, 1, 8)), tz)
    at = page_test("ninjatrader_import").run()
    at.file_uploader(key="nt_uploads").set_value([(NAME, data, "text/plain")]).run()
    assert not at.exception, [e.value for e in at.exception]
    [head] = at.subheader
    assert plain(rendered(head.value)) == NAME  # the upload's header reads exactly as the name
    assert_shown_literally(at)
    key = next(b.key for b in at.button if b.key and b.key.startswith("btn_import:"))
    fid = key.split(":", 1)[1]
    if at.button(key=key).disabled:  # whatever the verdict: the import's own messages are checked too
        at.checkbox(key=f"override:{fid}").check().run()
    at.button(key=key).click().run()
    assert at.session_state[f"job:import:{fid}"].wait(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    done = [s for s in at.success if plain(rendered(s.value)).startswith(f"Imported {NAME}: ")]
    assert done, [s.value for s in at.success]
    assert_shown_literally(at)
