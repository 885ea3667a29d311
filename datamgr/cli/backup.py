"""``backup list|verify|prune|restore|cloud``."""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, fmt_size, progress_printer, table
from datamgr.core.config import Settings
from datamgr.core.errors import CheckFailed
from datamgr.core.timefmt import to_et_iso
from datamgr.ops.cloud_backup import cloud_backup
from datamgr.store.backup import list_backups, verify_backups


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="list, verify, prune, restore backups; copy to cloud folders")
    bs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, helptext in (("list", "backups in the manifest"), ("verify", "re-hash and re-read every backup")):
        q = bs.add_parser(name, help=helptext)
        q.add_argument("--file", help="only backups of this file name (e.g. ES1_1m.parquet)")
    q = bs.add_parser("prune", help="apply retention (dry run unless --yes)")
    q.add_argument("--yes", action="store_true", help="really delete")
    q = bs.add_parser("restore", help="restore a bar file from a backup (shows the diff; --yes to do it)")
    q.add_argument("backup", help="backup path as listed (backups/ES1_1m.<stamp>.parquet)")
    q.add_argument("--yes", action="store_true")
    q.add_argument("--dry-run", action="store_true")
    q = bs.add_parser("cloud", help="copy masters and analysis JSON to the configured cloud folders")
    q.add_argument("--dest", action="append", help="destination folder (repeatable; default: datamgr.toml)")
    q.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=run)


def _rows(recs):
    return [[r.path, r.source, fmt_size(r.size), f"{r.rows:,}" if r.rows is not None else "—",
             r.reason, r.time[:19], "ok" if r.ok else "FAILED"] for r in recs]


def run(args: argparse.Namespace, settings: Settings) -> int:
    hdr = ["path", "source", "size", "rows", "reason", "time (UTC)", "verified"]
    if args.action in ("list", "verify"):
        recs = (verify_backups if args.action == "verify" else list_backups)(settings, args.file)
        payload = [r.to_json() | {"time": to_et_iso(r.time, settings.display_tz)} for r in recs]
        emit(args, {"backups": payload}, table(_rows(recs), hdr) if recs else "no backups yet")
        if args.action == "verify" and not all(r.ok for r in recs):
            raise CheckFailed(f"{sum(not r.ok for r in recs)} backup(s) failed verification")
        return 0
    if args.action == "prune":
        from datamgr.ops.restore import prune_backups  # heavy: polars, only when pruning

        plan = prune_backups(settings, apply=args.yes)
        verb = "deleted" if args.yes else "would delete (dry run; --yes to apply)"
        emit(args, plan.to_json() | {"dry_run": not args.yes},
             f"{verb} {len(plan.delete)} backup(s), keeping {len(plan.keep)}\n" + table(_rows(plan.delete), hdr))
        return 0
    if args.action == "restore":
        from datamgr.ops.restore import plan_restore, restore  # heavy: polars, only for restore
        from datamgr.store.store import Store  # heavy: polars, only to hold the lock for a restore

        if args.yes and not args.dry_run:
            with Store(settings).lock("backup restore"):  # the diff shown is the diff applied
                return _restore(args, settings, plan_restore, restore)
        return _restore(args, settings, plan_restore, restore)
    results = cloud_backup(settings, args.dest, dry_run=args.dry_run, progress=progress_printer(args))
    def line(r) -> str:
        tag = "OK  " if r.ok else "SKIP" if r.missing else "ERR "
        size = sum(f["size"] for f in r.files)
        what = (f"would copy {len(r.files)} file(s), {fmt_size(size)} -> {r.folder}" if args.dry_run
                else f"{len(r.files)} file(s), {fmt_size(size)} verified in {r.folder}")
        return f"{tag} {r.destination}: " + (r.error or what)

    lines = [line(r) for r in results] or [
        "no cloud destinations: none configured ([backup] destinations in datamgr.toml) and none of the default "
        r"folders (G:\My Drive\TradingBackups, C:\Users\<you>\OneDrive\TradingBackups) exists; nothing copied"]
    emit(args, {"destinations": [r.to_json() for r in results], "dry_run": args.dry_run}, "\n".join(lines))
    failed = [r for r in results if not r.ok and not r.missing]
    if failed:  # a missing drive is reported, not fatal; a copy that does not verify is
        raise CheckFailed(f"{len(failed)} cloud destination(s) failed: " + "; ".join(r.error or "" for r in failed))
    return 0


def _restore(args: argparse.Namespace, settings: Settings, plan_restore, restore) -> int:
    """Show the restore diff; with ``--yes`` apply it (``plan_restore``/``restore`` from ops.restore,
    imported by ``run`` on demand)."""
    plan = plan_restore(settings, args.backup)
    text = (f"restore {plan.backup} -> {plan.target}\n"
            f"  current: {plan.current_rows:,} bars {plan.current_range[0]} .. {plan.current_range[1]}\n"
            f"  backup:  {plan.backup_rows:,} bars {plan.backup_range[0]} .. {plan.backup_range[1]}\n"
            f"  removes {plan.only_in_current:,} bars, brings back {plan.only_in_backup:,}, changes {plan.changed:,}")
    if not args.yes or args.dry_run:
        emit(args, plan.to_json() | {"dry_run": True}, text + "\n(dry run; --yes to restore)")
        return 0
    res = restore(settings, args.backup, expect_generation=plan.current_generation)
    emit(args, plan.to_json() | {"dry_run": False, "backup_of_current": res.backup.path if res.backup else None},
         text + f"\nrestored; previous content backed up to {res.backup.path if res.backup else '—'}")
    return 0
