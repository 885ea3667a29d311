"""Remember a confirmed export zone per instrument in ``datamgr.toml`` (SPEC 3, issue 8 item 4).

Only on an explicit request (``--remember`` on verify/import, the Import page's "remember for
<ticker>"); never silently. The instrument's table gets ``import_tz`` and ``import_stamp``; the
file is edited with tomlkit so comments, layout and keys datamgr does not know survive. The new
text is checked by loading it as Settings before it replaces the old one (atomic write), under the
data folder's lock, and the change is journaled (``op = "remember_zone"``).

Where no configuration file was loaded, ``datamgr.toml`` is created next to the data folder
(``<data_dir>/../datamgr.toml``), where :meth:`Settings.load` finds it on the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from datamgr.core.config import Settings, config_file_for
from datamgr.core.errors import ConfigError, InputError
from datamgr.store import journal
from datamgr.store.atomic import atomic_write_bytes
from datamgr.store.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Remembered:
    """What :func:`remember_zone` wrote; ``settings`` is the new frozen Settings."""

    ticker: str
    tz: str
    stamp: str
    path: Path
    created: bool
    previous: tuple[str, str]
    settings: Settings

    @property
    def changed(self) -> bool:
        return self.previous != (self.tz, self.stamp) or self.created

    def to_json(self) -> dict:
        return {"ticker": self.ticker, "tz": self.tz, "stamp": self.stamp, "config": str(self.path),
                "created": self.created, "previous": {"tz": self.previous[0], "stamp": self.previous[1]}}

    def message(self) -> str:
        return (f"remembered {self.tz} ({self.stamp} stamps) for {self.ticker} in {self.path}"
                + (" (created)" if self.created else ""))


def remember_zone(settings: Settings, ticker: str, tz: str, stamp: str) -> Remembered:
    """Store ``tz``/``stamp`` as the export zone of ``ticker`` in the configuration file.

    Parameters
    ----------
    settings : Settings
        Current settings; the file written is :func:`~datamgr.core.config.config_file_for`.
    ticker : str
    tz : str
        IANA zone or ``UTC``.
    stamp : {"close", "open"}

    Returns
    -------
    Remembered
        The file, whether it was created, the previous values and the reloaded Settings.

    Raises
    ------
    ConfigError
        The existing file is not valid TOML, or the result would not load (nothing written).
    InputError
        ``stamp`` is not ``close``/``open``.
    """
    if stamp not in ("close", "open"):
        raise InputError(f"stamp={stamp!r}: expected 'close' or 'open'", field="stamp")
    path = config_file_for(settings)
    inst = settings.instrument(ticker)
    previous = (inst.import_tz, inst.import_stamp)
    with Store(settings).lock(f"remember zone {ticker}"):
        created = not path.is_file()
        text = "" if created else path.read_text(encoding="utf-8")
        try:
            doc = tomlkit.parse(text)
        except TOMLKitError as err:
            raise ConfigError(f"{path}: not valid TOML, nothing remembered: {err}") from err
        if created:
            doc.add(tomlkit.comment("datamgr settings (SPEC 3). Created to remember an export zone."))
        instruments = doc.setdefault("instruments", tomlkit.table(is_super_table=True))
        table = instruments.setdefault(ticker, tomlkit.table())
        table["import_tz"] = tz
        table["import_stamp"] = stamp
        new_text = tomlkit.dumps(doc)
        # validate what changed (other tables, known to datamgr or not, are left as they are)
        Settings.from_mapping({"instruments": {ticker: {"import_tz": tz, "import_stamp": stamp}}}, source=str(path))
        atomic_write_bytes(path, new_text.encode("utf-8"))
        journal.append(settings, journal.JournalEntry(
            id=journal.new_op_id(), op="remember_zone", file=path.name,
            details={"ticker": ticker, "tz": tz, "stamp": stamp, "config": str(path), "created": created,
                     "previous": {"tz": previous[0], "stamp": previous[1]}}))
    instruments = {**settings.instruments, ticker: replace(inst, import_tz=tz, import_stamp=stamp)}
    new_settings = replace(settings, instruments=instruments, config_path=path)
    log.info("remembered %s (%s) for %s in %s", tz, stamp, ticker, path)
    return Remembered(ticker, tz, stamp, path, created, previous, new_settings)
