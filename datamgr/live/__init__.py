"""Live prices (SPEC 10): a feed process per data folder and its controller.

* :mod:`datamgr.live.feed` — the process (``python -m datamgr live start --foreground``)
* :mod:`datamgr.live.controller` — :class:`~datamgr.live.controller.LiveDataFeed`
* :mod:`datamgr.live.quotes.sources`, :mod:`datamgr.live.quotes.smartapi` — replay, Yahoo and SmartAPI sources
* :mod:`datamgr.live.files` — the files in ``<data>/live`` and their validation
"""
