"""NIFTY / BANKNIFTY out of the box: NSE calendar, derived steps, health and status in IST."""

from __future__ import annotations

import datetime as dt
import json

from datamgr.calendar.sessions import calendar_for
from datamgr.cli.main import main
from datamgr.derived.regenerate import regenerate
from datamgr.store.store import Store
from tests.app.test_nse_pages_apptest import nifty_bars


def test_nse_instruments_are_configured_on_the_nse_calendar(settings):
    for ticker, token in (("NIFTY", "99926000"), ("BANKNIFTY", "99926009")):
        ins = settings.instrument(ticker)
        assert (ins.calendar, ins.exchange, ins.token, ins.source) == ("XNSE", "NSE", token, "smartapi")
        assert settings.display_tz_for(ticker) == "Asia/Kolkata"
    sess = calendar_for(settings, "NIFTY").sessions(dt.date(2024, 1, 22), dt.date(2024, 1, 26))
    # 2024-01-22 (Ram Mandir) and 2024-01-26 (Republic Day): NSE holidays
    assert sess["trading_day"].to_list() == [dt.date(2024, 1, 23), dt.date(2024, 1, 24), dt.date(2024, 1, 25)]
    assert {(o.hour, o.minute, c.hour, c.minute) for o, c in zip(sess["open"], sess["close"])} == {(3, 45, 10, 0)}


def test_derived_steps_health_and_status_work_for_nifty(settings, capsys):
    Store(settings).write("NIFTY", "1m", nifty_bars(), operation="test")
    rep = regenerate(settings, "NIFTY")
    assert rep.ok, rep.error
    for tf in ("5m", "15m", "1h", "4h"):
        assert Store(settings).read("NIFTY", tf).height > 0
    code = main(["--data-dir", str(settings.data_dir), "--json", "health", "NIFTY"])
    j = json.loads(capsys.readouterr().out)
    assert j["timezone"] == "Asia/Kolkata" and j["continuity"]["gaps"][0]["start"] == "2024-01-16T10:00:00+05:30"
    assert code == 1 and "hole 2024-01-16 10:00 IST .. 2024-01-16 11:30 IST: 90 missing minutes" in j["problems"]
    main(["--data-dir", str(settings.data_dir), "--json", "status"])
    files = {f["name"]: f for f in json.loads(capsys.readouterr().out)["files"]}
    assert files["NIFTY_1m.parquet"]["start"] == "2024-01-15T09:15:00+05:30"
