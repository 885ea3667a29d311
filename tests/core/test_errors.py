"""Errors read as one human line (summary) with the full text kept as detail."""

from __future__ import annotations

from datamgr.core.errors import InputError, SourceError, describe


def _raised(err: Exception, cause: Exception | None = None) -> Exception:
    try:
        raise err from cause
    except Exception as e:  # noqa: BLE001 - the test inspects the chained error
        return e


def test_an_offline_yahoo_fetch_says_no_internet_connection():
    err = _raised(SourceError("Yahoo request failed for ES=F 1m: ConnectionError: curl: (6) Could not resolve host: "
                              "query2.finance.yahoo.com. Nothing was written."),
                  OSError("Could not resolve host: query2.finance.yahoo.com"))
    summary, detail = describe(err)
    assert summary == "No internet connection (Yahoo unreachable). Nothing was written."
    assert "query2.finance.yahoo.com" in detail


def test_yfinance_empty_answer_after_a_dns_failure_is_offline_too():
    err = SourceError("Yahoo returned no data for ES=F 1m (Cookie/crumb fetch failed (DNSError); $ES=F: possibly "
                      "delisted; no timezone found). Nothing was written.")
    assert describe(err)[0].startswith("No internet connection (Yahoo unreachable)")


def test_a_rate_limit_says_when_to_retry():
    err = SourceError("Yahoo rate limit (YFRateLimitError) for ES=F 1m: try again later. Nothing was written.")
    summary, _ = describe(err)
    assert "rate-limiting" in summary and "try again in 15 minutes" in summary


def test_other_errors_keep_their_own_summary_or_first_line():
    err = InputError("ES.csv line 12, field close: 'abc' is not a number\nexpected yyyyMMdd HHmmss;o;h;l;c;v",
                     file="ES.csv", line=12, field="close")
    assert describe(err) == ("ES.csv line 12, field close: 'abc' is not a number", str(err))
    assert describe(InputError("long detail", summary="Short."))[0] == "Short."
