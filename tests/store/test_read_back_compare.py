"""The read-back comparison sees every changed value, dictionary columns included."""

from __future__ import annotations

import pyarrow as pa

from datamgr.store.store import same_values

DICT = pa.dictionary(pa.int32(), pa.string())


def _table(sources_chunks, closes):
    src = pa.chunked_array([pa.array(c).dictionary_encode().cast(DICT) for c in sources_chunks], type=DICT)
    return pa.table({"close": pa.array(closes, pa.float64()), "source": src})


def test_same_values_across_chunkings_and_dictionary_orders():
    a = _table([["yahoo", "demo"], ["demo", "ninjatrader"]], [1.0, 2.0, 3.0, 4.0])
    b = _table([["yahoo", "demo", "demo", "ninjatrader"]], [1.0, 2.0, 3.0, 4.0])
    assert same_values(a, b) and same_values(b, a)


def test_one_changed_label_or_price_is_seen():
    a = _table([["yahoo", "demo", "demo", "ninjatrader"]], [1.0, 2.0, 3.0, 4.0])
    assert not same_values(a, _table([["yahoo", "demo", "yahoo", "ninjatrader"]], [1.0, 2.0, 3.0, 4.0]))
    assert not same_values(a, _table([["yahoo", "demo", "demo", "ninjatrader"]], [1.0, 2.0, 3.5, 4.0]))
    assert not same_values(a, _table([["yahoo", "demo", "demo"]], [1.0, 2.0, 3.0]))
    new_word = _table([["yahoo", "demo", "demo", "live"]], [1.0, 2.0, 3.0, 4.0])
    assert not same_values(a, new_word)
