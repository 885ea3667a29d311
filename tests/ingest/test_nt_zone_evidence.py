"""Zone evidence on short real windows (issue 8 item 1): absence of bars is evidence too.

Windows are cut out of the real ``MES 09-25.Last.txt`` (stamped in UTC at the bar close). The
ground truth for each window is computed here without datamgr: the file's 60-minute hole sits at
16:00-17:00 Chicago time, CME's daily halt, only when the stamps are read as UTC."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from datamgr.core.config import Settings
from datamgr.core.errors import CheckFailed
from datamgr.ops.import_export import import_export, verify_export
from tests.conftest import REPO, folder_hash
from tests.ingest.real_windows import MES, find, lines, render, stamp

CT = ZoneInfo("America/Chicago")
HALT_DAYS = ("20250612", "20250616", "20250617", "20250623", "20250624", "20250707", "20250805")


def halt_window(rows: list[str], day: str, before: int = 250, after: int = 250) -> list[str]:
    i = find(rows, f"{day} 210000")
    assert rows[i].startswith(f"{day} 210000")
    return rows[i - before + 1: i + 1 + after]


def _hole_in_ct(window: list[str]) -> tuple[dt.time, dt.time, int]:
    """The largest hole of the window with its stamps read as UTC close stamps, in Chicago time."""
    t = [stamp(ln).replace(tzinfo=dt.UTC) - dt.timedelta(minutes=1) for ln in window]
    k = max(range(1, len(t)), key=lambda j: t[j] - t[j - 1])
    gap = int((t[k] - t[k - 1]).total_seconds() // 60) - 1
    return (t[k - 1] + dt.timedelta(minutes=1)).astimezone(CT).time(), t[k].astimezone(CT).time(), gap


@pytest.mark.parametrize("day", HALT_DAYS)
def test_real_window_spanning_the_daily_halt_verifies_as_utc_close_and_is_refused_under_other_zones(
        real_data_dir, settings, day):
    window = halt_window(lines(real_data_dir / MES), day)
    # ground truth without datamgr: read as UTC, the hole is exactly CME's 16:00-17:00 CT halt
    assert _hole_in_ct(window) == (dt.time(16, 0), dt.time(17, 0), 60)
    data = render(window)
    rep = verify_export(settings, "MES1", data, f"MES 09-25 {day}.txt", tz="UTC")
    assert rep.verdict == "SUCCESS" and rep.zone_decision == "decided"
    assert (rep.zone_ranking[0].tz, rep.zone_ranking[0].stamp) == ("UTC", "close")
    assert rep.zone_ranking[0].score - rep.zone_ranking[1].score >= 0.02
    assert "the 60-minute gap at 17:00 ET matches the daily halt only in UTC (close stamps)" in rep.zone_reason
    for wrong in ("America/Los_Angeles", "America/Chicago", "America/New_York"):
        bad = verify_export(settings, "MES1", data, "w.txt", tz=wrong)
        assert bad.verdict == "FAIL" and '--tz "UTC" --stamp close' in bad.message
        assert "matches the daily halt only in UTC" in bad.message
    opened = verify_export(settings, "MES1", data, "w.txt", tz="UTC", stamp="open")
    assert opened.verdict == "FAIL" and "--stamp close" in opened.message


def test_a_stray_print_inside_the_halt_does_not_outweigh_the_matched_halt(real_data_dir, settings):
    window = halt_window(lines(real_data_dir / MES), "20250612", before=150, after=150)
    i = find(window, "20250612 213000")
    price = window[i - 1].split(";")[4]
    stray = window[:i] + [f"20250612 213000;{price};{price};{price};{price};1"] + window[i:]
    rep = verify_export(settings, "MES1", render(stray), "stray.txt", tz="UTC")
    assert rep.verdict == "SUCCESS" and rep.outside_session == 1
    best, la = rep.zone_ranking[0], next(z for z in rep.zone_ranking if z.tz == "America/Los_Angeles")
    assert (best.tz, best.stamp) == ("UTC", "close") and best.closures_matched == 1
    assert la.in_session == 1.0 and la.gaps_inside == 2 and best.score - la.score > 0.3  # the stray splits the hole
    assert verify_export(settings, "MES1", render(stray), "stray.txt", tz="America/Los_Angeles").verdict == "FAIL"


def test_weekend_with_sunday_stray_prints_is_matched_in_utc(real_data_dir, settings):
    rows = lines(real_data_dir / MES)
    i, j = find(rows, "20250613 200000"), find(rows, "20250615 230000")
    rep = verify_export(settings, "MES1", render(rows[i:j]), "weekend.txt", tz="UTC")
    assert rep.verdict == "SUCCESS", rep.message
    assert (rep.zone_ranking[0].tz, rep.zone_ranking[0].stamp) == ("UTC", "close")
    assert rep.outside_session >= 1  # the Sunday afternoon print before the 17:00 CT open


def test_window_without_edge_or_overlap_is_undecided(real_data_dir, settings, tmp_path):
    rows = lines(real_data_dir / MES)
    window = rows[100:400]  # Thursday 05:41-10:40 UTC: inside one session, no hole
    data = render(window)
    # MES1 has only the built-in default zone: undecided -> FAIL asking for --tz
    rep = verify_export(settings, "MES1", data, "mid.txt")
    assert rep.zone_decision == "undecided" and rep.zone_origin == "default"
    assert rep.verdict == "FAIL" and "cannot be decided" in rep.message and "--tz" in rep.message
    assert all(z.score < 0.7 for z in rep.zone_ranking), "no candidate may look like a perfect fit"
    # a given zone passes with a note saying the calendar could not confirm it
    given = verify_export(settings, "MES1", data, "mid.txt", tz="UTC")
    assert given.verdict == "SUCCESS" and given.zone_decision == "undecided"
    assert any(n.startswith("zone undecided") and "given zone UTC" in n for n in given.notes)
    # a configured (remembered) zone passes too, with the note
    cfg = tmp_path / "datamgr.toml"
    cfg.write_text('[instruments.MES1]\nimport_tz = "UTC"\n')
    s2 = Settings.load(data_dir=settings.data_dir, config=cfg, env={})
    rem = verify_export(s2, "MES1", data, "mid.txt")
    assert rem.verdict == "SUCCESS" and rem.zone_origin == "remembered"
    assert any("remembered zone UTC" in n for n in rem.notes)
    # nothing imports on the undecided default
    before = folder_hash(settings.data_dir)
    with pytest.raises(CheckFailed, match="cannot be decided"):
        import_export(settings, "MES1", data, "mid.txt", no_derived=True)
    assert folder_hash(settings.data_dir) == before


def test_cli_verify_and_import_refuse_a_real_halt_window_under_a_wrong_tz(real_data_dir, settings, tmp_path):
    f = tmp_path / "MES 09-25.Last.txt"
    f.write_bytes(render(halt_window(lines(real_data_dir / MES), "20250617")))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "datamgr", *args, "--data-dir", str(settings.data_dir)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)

    bad = cli("verify", str(f), "MES1", "--tz", "America/Chicago")
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL:") and "daily halt only in UTC" in bad.stdout
    before = folder_hash(settings.data_dir)
    imp = cli("import", str(f), "MES1", "1m", "--tz", "America/Los_Angeles", "--no-derived")
    assert imp.returncode == 1 and folder_hash(settings.data_dir) == before
    ok = cli("import", str(f), "MES1", "1m", "--tz", "UTC", "--no-derived")
    assert ok.returncode == 0, ok.stderr
