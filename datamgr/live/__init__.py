"""Live prices (SPEC 10): a feed process per data folder and its controller.

* :mod:`datamgr.live.feed` — the process (``python -m datamgr live start --foreground``)
* :mod:`datamgr.live.controller` — :class:`~datamgr.live.controller.LiveDataFeed`
* :mod:`datamgr.live.quotes` — quote sources: replay, Yahoo, SmartAPI (:func:`~datamgr.live.quotes.factory.make_source`)
* :mod:`datamgr.live.files` — the files in ``<data>/live`` and their validation
"""
