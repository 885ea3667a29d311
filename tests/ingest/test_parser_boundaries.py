"""NinjaTrader parser boundaries (issue 15): fractional volumes, one out-of-order line (which must not
turn the whole file around), newest-first files on both parser paths, the separators, stamps and
tick fractions at their edges."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.core.errors import InputError, ParseError
from datamgr.ingest.ninjatrader.parse import CSV, CSV_DAILY, DAILY, MINUTE, TICK, TICK_BA, parse_export
from datamgr.ingest.ninjatrader.place import infer_interval, parse_interval, to_bars

L1 = "20250107 150100;5000.25;5001;4999.5;5000.75;10"
L2 = "20250107 150200;5000.75;5001.25;5000;5001;11"
L3 = "20250107 150300;5001;5001.5;5000.5;5001.25;12"


def text(*lines: str, eol: str = "\r\n") -> bytes:
    return (eol.join(lines) + eol).encode()


@pytest.mark.parametrize("vol", ["12.0", "12.00", "12"])
def test_a_whole_volume_written_with_decimals_is_read(vol):
    p = parse_export(text(L1, L2.replace(";11", f";{vol}")), "v.txt")
    assert p.rows["volume"].to_list() == [10, 12]
    assert p.rows["volume"].dtype == pl.Int64


@pytest.mark.parametrize("vol", ["12.5", "0.1", "1e-3"])
def test_a_fractional_volume_is_refused_naming_line_and_field(vol):
    with pytest.raises(ParseError, match=rf"v.txt: line 2 field 'volume': volume '{vol}' is not a whole number") as e:
        parse_export(text(L1, L2.replace(";11", f";{vol}"), L3), "v.txt")
    assert (e.value.line, e.value.field) == (2, "volume")


def test_one_out_of_order_line_is_rejected_and_the_file_is_not_reversed():
    for data in (text(L1, L3, L2), text(L1, "", L3, L2)):  # fast path, careful path (blank line)
        p = parse_export(data, "o.txt")
        assert p.notes == []
        placed = to_bars(p, "UTC", interval="1m")
        assert placed.bars.height == 2
        assert [(r.line, r.reason) for r in placed.rejects] == [(p.rows["line"][2], "time stamp out of order")]
        assert placed.bars["close"].to_list() == [5000.75, 5001.25]


def test_a_newest_first_file_is_read_oldest_first_on_both_paths():
    for data in (text(L3, L2, L1), text(L3, "", L2, L1)):
        p = parse_export(data, "n.txt")
        assert p.notes == ["rows were newest first; read oldest first"]
        placed = to_bars(p, "UTC", interval="1m")
        assert placed.rejects == [] and placed.bars.height == 3
        assert placed.bars["datetime"].is_sorted()


def test_a_duplicate_stamp_keeps_the_first_line():
    p = parse_export(text(L1, L2, L2.replace(";11", ";99")), "d.txt")
    placed = to_bars(p, "UTC")
    assert placed.bars["volume"].to_list() == [10, 11]
    assert [(r.line, r.reason) for r in placed.rejects] == [(3, "duplicate time stamp (an earlier line has it)")]


def test_formats_are_detected_from_the_first_data_line():
    assert parse_export(text(L1), "m").format == MINUTE
    assert parse_export(text("20250107;1;2;0.5;1.5;3"), "d").format == DAILY
    assert parse_export(text("20250107 150100 1234567;5000.25;3"), "t").format == TICK
    assert parse_export(text("20250107 150100 1234567;5000.25;5000;5000.5;3"), "b").format == TICK_BA
    assert parse_export(text("Date,Time,Open,High,Low,Close,Volume", "01/07/2025,15:01:00,1,2,0.5,1.5,3"),
                        "c").format == CSV
    assert parse_export(text("Date,Open,High,Low,Close,Adj Close,Volume", "2025-01-07,1,2,0.5,1.5,1.4,3"),
                        "y").format == CSV_DAILY


def test_decimal_comma_with_semicolons_and_a_trailing_separator():
    p = parse_export(text("20250107 150100;5000,25;5001;4999,5;5000,75;10;"), "dc.txt")
    assert p.decimal_comma and p.separator == ";"
    assert p.rows.select("open", "low", "close").row(0) == (5000.25, 4999.5, 5000.75)


def test_tick_fractions_are_100ns_truncated_to_microseconds_and_aggregated_by_minute():
    lines = ["20250107 150100 0000009;5000;1", "20250107 150159 9999999;5001;2", "20250107 150200 0000000;4999;4"]
    p = parse_export(text(*lines), "t.txt")
    assert p.rows["stamp"].to_list() == [dt.datetime(2025, 1, 7, 15, 1, 0, 0), dt.datetime(2025, 1, 7, 15, 1, 59, 999999),
                                         dt.datetime(2025, 1, 7, 15, 2)]
    bars = to_bars(p, "UTC").bars
    assert bars.select("open", "high", "low", "close", "volume").rows() == [(5000.0, 5001.0, 5000.0, 5001.0, 3),
                                                                           (4999.0, 4999.0, 4999.0, 4999.0, 4)]


@pytest.mark.parametrize(("line", "what"), [
    ("2025017 150100;1;2;0.5;1.5;3", "not a NinjaTrader export line"),
    ("20250107 150100;1;2;0.5;1.5", "5 field(s) where 6 were expected"),
    ("20250107 150100;1;2;x;1.5;3", "low 'x' is not a number"),
    ("20250107 1501;1;2;0.5;1.5;3", "not a NinjaTrader export line"),
])
def test_malformed_first_lines_name_line_1(line, what):
    with pytest.raises(ParseError, match="line 1") as e:
        parse_export(text(line, L2), "bad.txt")
    assert what in str(e.value)


def test_a_malformed_later_line_names_its_own_line_number():
    with pytest.raises(ParseError, match=r"bad.txt: line 3 field 'datetime'"):
        parse_export(text(L1, L2, "2025010 150300;1;2;0.5;1.5;3"), "bad.txt")


def test_interval_inference_and_parsing():
    s = pl.Series([dt.datetime(2025, 1, 7, 15, m) for m in (0, 5, 10, 11, 20)])
    assert infer_interval(s) == 5
    assert infer_interval(pl.Series([dt.datetime(2025, 1, 7)])) == 1
    assert [parse_interval(x) for x in ("1m", "5m", " 15 min ", "1h", "4h")] == [1, 5, 15, 60, 240]
    for bad in ("0m", "m", "5s", ""):
        with pytest.raises(InputError, match="interval"):
            parse_interval(bad)


def test_close_stamps_shift_back_by_the_interval_and_open_stamps_do_not():
    p = parse_export(text(L1, L2, L3), "s.txt")
    close = to_bars(p, "UTC").bars["datetime"][0]
    opened = to_bars(p, "UTC", stamp="open").bars["datetime"][0]
    assert close == dt.datetime(2025, 1, 7, 15, 0, tzinfo=dt.UTC) and opened == dt.datetime(2025, 1, 7, 15, 1,
                                                                                           tzinfo=dt.UTC)
    assert to_bars(p, "UTC", interval="5m").bars["datetime"][0] == dt.datetime(2025, 1, 7, 14, 56, tzinfo=dt.UTC)
    with pytest.raises(InputError, match="stamp 'middle'"):
        to_bars(p, "UTC", stamp="middle")


def test_a_spring_forward_time_that_does_not_exist_names_its_line():
    data = text("20250309 015900;1;2;0.5;1.5;3", "20250309 023000;1;2;0.5;1.5;3")
    with pytest.raises(InputError, match=r"1 time\(s\) that do not exist in America/New_York.*line 2"):
        to_bars(parse_export(data, "dst.txt"), "America/New_York")


# ---------------------------------------------------------------- mutation survivors (issue 15 item 3)
def test_bytes_that_are_not_utf8_name_the_file_and_the_line():
    data = text(L1, L2) + b"20250107 150300;5001;5001.5;5000.5;5001.25;\xff\xfe\r\n"
    with pytest.raises(ParseError) as e:
        parse_export(data, "latin.txt")
    assert (e.value.file, e.value.line) == ("latin.txt", 3)
    assert str(e.value).startswith("latin.txt: line 3: bytes that are not UTF-8")


def test_a_file_of_blank_lines_names_the_file_and_line_1():
    with pytest.raises(ParseError) as e:
        parse_export(b"\r\n  \r\n\t\r\n", "blank.txt")  # whitespace only: "empty"
    assert (e.value.file, e.value.line) == ("blank.txt", 1) and "file is empty" in str(e.value)
    with pytest.raises(ParseError) as e:
        parse_export(b"\xef\xbb\xbf\r\n  \r\n", "bom.txt")  # a BOM, then blank lines
    assert (e.value.file, e.value.line) == ("bom.txt", 1) and "only blank lines" in str(e.value)


def test_the_parsed_export_keeps_its_name_and_a_reject_its_line_text():
    bad = "20250107 150200;5000.75;4999;5000;5001;11"  # high below low
    p = parse_export(text(L1, bad, L3), "MES 03-25.Last.txt")
    assert (p.name, p.rows_read, p.format) == ("MES 03-25.Last.txt", 3, MINUTE)
    careful = parse_export(text(L1, "", L3), "MES 03-25.Last.txt")  # a blank line: the careful path
    assert (careful.name, careful.rows.height) == ("MES 03-25.Last.txt", 2)
    placed = to_bars(p, "UTC")
    assert [(r.line, r.text) for r in placed.rejects] == [(2, bad)]
    assert placed.rejects[0].to_json() == {"line": 2, "reason": placed.rejects[0].reason, "text": bad}


def test_a_decimal_comma_is_seen_when_only_the_open_field_has_a_fraction():
    lines = ["20250107 150100;5000,5;5001;4999;5001;10", "20250107 150200;5001;5002;5000;5002;11"]
    p = parse_export(text(*lines), "comma.txt")
    assert p.decimal_comma and p.rows["open"].to_list() == [5000.5, 5001.0]


def test_a_stamp_that_does_not_exist_in_the_zone_names_its_line():
    gap = "20250309 023000;5000;5001;4999;5000;10"  # 02:30 on the spring-forward night in New York
    p = parse_export(text("20250309 013000;5000;5001;4999;5000;10", gap), "dst.txt")
    with pytest.raises(InputError) as e:
        to_bars(p, "America/New_York", stamp="open")
    assert (e.value.file, e.value.line, e.value.field) == ("dst.txt", 2, "datetime")
