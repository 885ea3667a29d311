"""Cloud copies: the requirements' default folders when none are configured; a missing drive is
reported and skipped (exit 0), never fatal; dry runs show what would be copied and its size."""

from __future__ import annotations

import json

from datamgr.cli.main import main
from datamgr.core.config import Settings
from datamgr.ops.cloud_backup import cloud_backup
from tests.conftest import folder_hash
from tests.ingest.nt_builders import render_fast


def test_default_folders_are_used_only_when_they_exist(tmp_path, monkeypatch):
    s = Settings.load(data_dir=tmp_path / "data", env={})
    drive = tmp_path / "GDrive" / "TradingBackups"
    onedrive = tmp_path / "Users" / "{USER}" / "OneDrive" / "TradingBackups"
    candidates = (str(drive), str(onedrive))
    assert s.cloud_destinations(candidates) == ()
    drive.mkdir(parents=True)
    assert s.cloud_destinations(candidates) == (drive,)
    configured = Settings.from_mapping({"backup": {"destinations": [str(tmp_path / "mine")]}})
    assert configured.cloud_destinations(candidates) == (tmp_path / "mine",)  # configuration wins


def test_a_missing_destination_is_reported_and_the_command_exits_0(store, week_bars, settings, tmp_path, capsys):
    store.write("ES1", "1m", week_bars, operation="import", backup=False)
    ok_dest = tmp_path / "cloud"
    ok_dest.mkdir()
    before = folder_hash(settings.data_dir)
    rc = main(["--data-dir", str(settings.data_dir), "--json", "backup", "cloud", "--dest", str(tmp_path / "G"),
               "--dest", str(ok_dest)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    missing, good = out["destinations"]
    assert missing["missing"] and not missing["ok"] and "does not exist" in missing["error"]
    assert good["ok"] and [f["file"] for f in good["files"]] == ["ES1_1m.parquet"]
    assert folder_hash(settings.data_dir) == before
    rc = main(["--data-dir", str(settings.data_dir), "backup", "cloud", "--dest", str(ok_dest), "--dry-run"])
    text = capsys.readouterr().out
    assert rc == 0 and "would copy 1 file(s)" in text and "KB" in text


def test_dry_run_import_prints_the_file_size_change(settings, store, week_bars, tmp_path, capsys):
    store.write("ES1", "1m", week_bars.head(3000), operation="seed", backup=False)
    src = tmp_path / "ES.txt"
    src.write_bytes(render_fast(week_bars, "America/Los_Angeles"))
    before = folder_hash(settings.data_dir)
    rc = main(["--data-dir", str(settings.data_dir), "--json", "import", str(src), "ES1", "--dry-run"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["dry_run"] and out["size_after"] > out["size_before"] > 0
    assert folder_hash(settings.data_dir) == before
    assert cloud_backup(settings, [tmp_path / "nowhere"])[0].missing
