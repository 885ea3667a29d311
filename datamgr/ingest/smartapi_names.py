"""SmartAPI names that the CLI needs to build its parser (no polars: ``datamgr status`` starts light).

:mod:`datamgr.ingest.smartapi` re-exports them.
"""

from __future__ import annotations

#: environment variable of each credential / setting
ENV = {"api_key": "DATAMGR_SMARTAPI_API_KEY", "client_code": "DATAMGR_SMARTAPI_CLIENT_CODE",
       "pin": "DATAMGR_SMARTAPI_PIN", "totp_secret": "DATAMGR_SMARTAPI_TOTP_SECRET"}
URL_ENV = "DATAMGR_SMARTAPI_URL"
#: interval -> minutes per candle
INTERVAL_MINUTES = {"ONE_MINUTE": 1, "THREE_MINUTE": 3, "FIVE_MINUTE": 5, "TEN_MINUTE": 10,
                    "FIFTEEN_MINUTE": 15, "THIRTY_MINUTE": 30, "ONE_HOUR": 60, "ONE_DAY": 1440}
