"""Plan and apply a merge of incoming bars into existing bars, with source precedence.

Source-agnostic: NinjaTrader imports and Yahoo updates both call :func:`plan_merge`.

Policy (SPEC 6), decided per timestamp:

* only in the existing file -> kept (existing bars are never lost unless ``--replace`` covers them)
* only incoming             -> **new**
* both, OHLC within 1e-9 and same volume -> **identical**: a no-op (the existing row, its
  ``source`` included, stays byte-for-byte as it was)
* both, different           -> **conflict**: the higher-precedence source wins
  (``ninjatrader > smartapi > yahoo > upsampled/demo`` by default). Decision where the spec is
  silent: on equal precedence (e.g. a re-export from the same source) the incoming bar wins,
  because a newer export of the same feed corrects the older one (a partial last bar).
  Sources missing from the precedence list (``legacy``: a master written before datamgr, without
  a ``source`` column; any name datamgr does not know) are the user's own data and rank *above*
  every listed one, unless the list names them (``[merge] precedence`` in datamgr.toml).
* ``replace_range=(start, end)`` (inclusive, UTC): every existing bar in the range is dropped and
  the incoming bars of the range are taken whatever their source (``--replace``).

The plan carries every conflict with both versions and which way it went.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import polars as pl

from datamgr.core.schema import conform
from datamgr.core.timefmt import to_et_iso

log = logging.getLogger(__name__)
_PRICES = ("open", "high", "low", "close")
_VALS = (*_PRICES, "volume", "source")
EPS = 1e-9


@dataclass
class MergePlan:
    """What a merge would do; ``result`` is the complete merged frame."""

    rows_before: int
    incoming: int
    new: int
    identical: int
    conflicts: int
    replaced: int  # conflicts won by the incoming bar + existing bars replaced by a forced range
    kept: int  # conflicts won by the existing bar
    removed: int  # existing bars in a forced replace range with no incoming bar
    conflict_rows: pl.DataFrame
    result: pl.DataFrame

    @property
    def changed(self) -> bool:
        return bool(self.new or self.replaced or self.removed)

    @property
    def result_rows(self) -> int:
        return self.result.height

    @property
    def start(self) -> dt.datetime | None:
        return self.result["datetime"].min() if self.result.height else None

    @property
    def end(self) -> dt.datetime | None:
        return self.result["datetime"].max() if self.result.height else None

    def to_json(self, max_conflicts: int = 50) -> dict:
        rows = []
        for r in self.conflict_rows.head(max_conflicts).iter_rows(named=True):
            r = dict(r)
            r["datetime"] = to_et_iso(r["datetime"])
            rows.append(r)
        return {"rows_before": self.rows_before, "incoming": self.incoming, "new": self.new,
                "identical": self.identical, "conflicts": self.conflicts, "replaced": self.replaced,
                "kept": self.kept, "removed": self.removed, "result_rows": self.result_rows,
                "start": to_et_iso(self.start), "end": to_et_iso(self.end), "conflict_rows": rows}


def _rank(precedence: tuple[str, ...] | list[str], column: str) -> pl.Expr:
    """Expression mapping a source column to its rank (lower = higher precedence). Unlisted
    sources (legacy masters, unknown names) rank -1: above every listed source."""
    order = {s: i for i, s in enumerate(precedence)}
    return pl.col(column).replace_strict(order, default=-1, return_dtype=pl.Int32)


def plan_merge(existing: pl.DataFrame, incoming: pl.DataFrame, *, precedence: tuple[str, ...] | list[str],
               replace_range: tuple[dt.datetime, dt.datetime] | None = None) -> MergePlan:
    """Plan merging ``incoming`` into ``existing`` (both canonical, sorted, unique stamps).

    Parameters
    ----------
    existing, incoming : DataFrame
        Canonical bar frames.
    precedence : sequence of str
        Source names, highest precedence first (``Settings.merge_precedence``).
    replace_range : (datetime, datetime), optional
        Inclusive UTC range in which incoming bars replace existing ones unconditionally.

    Returns
    -------
    MergePlan
        Counts, the conflicts (both versions and the winner) and the merged frame.
    """
    ex = conform(existing)
    inc = conform(incoming)
    if inc.height == 0 and replace_range is None or ex.height == 0:
        return _disjoint(ex, inc)
    # only the existing bars inside the incoming (or forced) range can be touched: merge that
    # slice and splice it back between the untouched head and tail (no full-file join)
    lo, hi = inc["datetime"].min(), inc["datetime"].max()
    if replace_range is not None:
        lo = min(x for x in (lo, replace_range[0]) if x is not None)
        hi = max(x for x in (hi, replace_range[1]) if x is not None)
    t = pl.col("datetime")
    lo_l, hi_l = pl.lit(lo).cast(ex.schema["datetime"]), pl.lit(hi).cast(ex.schema["datetime"])
    head, tail = ex.filter(t < lo_l), ex.filter(t > hi_l)
    plan = _plan_slice(ex.filter(t.is_between(lo_l, hi_l)), inc, precedence, replace_range)
    plan.rows_before = ex.height
    plan.result = pl.concat([head, plan.result, tail]).with_columns(t.set_sorted())
    log.info("merge plan: %d new, %d identical, %d conflicts (%d replaced, %d kept), %d removed",
             plan.new, plan.identical, plan.conflicts, plan.replaced, plan.kept, plan.removed)
    return plan


def _disjoint(ex: pl.DataFrame, inc: pl.DataFrame) -> MergePlan:
    """Nothing to compare: one side is empty."""
    result = ex if inc.height == 0 else inc
    empty = pl.DataFrame(schema={"datetime": ex.schema["datetime"]})
    return MergePlan(ex.height, inc.height, inc.height if ex.height == 0 else 0, 0, 0, 0, 0, 0, empty, result)


def _plan_slice(ex: pl.DataFrame, inc: pl.DataFrame, precedence, replace_range) -> MergePlan:
    keep_ex = ex
    removed_range = pl.DataFrame(schema=ex.schema)
    if replace_range is not None:
        lo, hi = replace_range
        in_rng = pl.col("datetime").is_between(pl.lit(lo).cast(ex.schema["datetime"]),
                                               pl.lit(hi).cast(ex.schema["datetime"]))
        removed_range = ex.filter(in_rng)
        keep_ex = ex.filter(~in_rng)
    j = keep_ex.join(inc, on="datetime", how="full", suffix="_in", coalesce=True)
    both = pl.col("open").is_not_null() & pl.col("open_in").is_not_null()
    same = pl.all_horizontal([(pl.col(c) - pl.col(f"{c}_in")).abs() <= EPS for c in _PRICES]) & (
        pl.col("volume") == pl.col("volume_in"))
    j = j.with_columns(_rank(precedence, "source").alias("_rank_ex"),
                       _rank(precedence, "source_in").alias("_rank_in"))
    j = j.with_columns(
        pl.when(pl.col("open").is_null()).then(pl.lit("new"))
        .when(pl.col("open_in").is_null()).then(pl.lit("existing"))
        .when(same).then(pl.lit("identical"))
        .when(pl.col("_rank_in") <= pl.col("_rank_ex")).then(pl.lit("incoming"))
        .otherwise(pl.lit("kept")).alias("_fate")
    )
    take_in = pl.col("_fate").is_in(["new", "incoming"])
    result = j.select(
        "datetime",
        *(pl.when(take_in).then(pl.col(f"{c}_in")).otherwise(pl.col(c)).alias(c) for c in _VALS),
    ).sort("datetime")
    counts = j.group_by("_fate").len()
    c = dict(zip(counts["_fate"].to_list(), counts["len"].to_list()))
    conflicts = j.filter(both & ~same).select(
        "datetime", *_VALS, *(f"{v}_in" for v in _VALS),
        pl.when(pl.col("_fate") == "incoming").then(pl.lit("incoming")).otherwise(pl.lit("existing"))
        .alias("winner"),
    )
    # a forced range: existing bars there were replaced (if an incoming bar has that stamp) or removed
    in_stamps = inc["datetime"]
    repl_forced = removed_range.filter(pl.col("datetime").is_in(in_stamps.implode())).height
    removed = removed_range.height - repl_forced
    new = c.get("new", 0) - repl_forced
    plan = MergePlan(
        rows_before=ex.height, incoming=inc.height, new=new, identical=c.get("identical", 0),
        conflicts=conflicts.height, replaced=c.get("incoming", 0) + repl_forced, kept=c.get("kept", 0),
        removed=removed, conflict_rows=conflicts, result=conform(result),
    )
    return plan
