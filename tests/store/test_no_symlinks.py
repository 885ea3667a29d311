"""No write follows a symbolic link (issue 11.8): the master, the lock's owner file, the journal."""

from __future__ import annotations

import pytest

from datamgr.core.errors import StoreError
from tests.conftest import folder_hash


def test_a_symlinked_master_is_refused_with_a_message_and_stays_a_link(store, settings, week_bars, tmp_path):
    elsewhere = tmp_path / "elsewhere.parquet"
    store.write("ES1", "1m", week_bars, operation="test")
    path = settings.bar_path("ES1", "1m")
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    target = elsewhere.read_bytes()
    with pytest.raises(StoreError, match="is a symbolic link"):
        store.write("ES1", "1m", week_bars.head(10), operation="import")
    with pytest.raises(StoreError, match="is a symbolic link"):
        store.read("ES1", "1m")
    assert path.is_symlink() and elsewhere.read_bytes() == target


def test_the_lock_owner_file_is_never_written_through_a_link(store, settings, week_bars, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    settings.data_dir.mkdir(exist_ok=True)
    owner = settings.lock_path.with_name(settings.lock_path.name + ".owner")
    owner.symlink_to(victim)
    store.write("ES1", "1m", week_bars, operation="test")  # the write itself goes ahead
    assert victim.read_text() == "precious"


def test_a_journal_that_is_a_link_stops_the_write_before_anything_changes(store, settings, week_bars, tmp_path):
    store.write("ES1", "1m", week_bars, operation="test")
    elsewhere = tmp_path / "journal-elsewhere.jsonl"
    elsewhere.write_bytes(settings.journal_path.read_bytes())
    settings.journal_path.unlink()
    settings.journal_path.symlink_to(elsewhere)
    master, before = settings.bar_path("ES1", "1m").read_bytes(), elsewhere.read_bytes()
    with pytest.raises(StoreError, match="symbolic link"):
        store.write("ES1", "1m", week_bars.head(100), operation="test")
    assert settings.bar_path("ES1", "1m").read_bytes() == master
    assert elsewhere.read_bytes() == before
    assert folder_hash(settings.data_dir)  # the folder still reads


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(store, settings, week_bars, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    settings.lock_path.symlink_to(victim)
    with pytest.raises(StoreError, match="symbolic link"):
        store.write("ES1", "1m", week_bars, operation="test")
    assert victim.read_text() == "precious"
