"""Settings: defaults <- datamgr.toml <- env <- --data-dir, with errors naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamgr.core.config import Settings, check_ticker
from datamgr.core.errors import ConfigError


@pytest.fixture
def in_empty_dir(tmp_path, monkeypatch):
    """Run in a folder without datamgr.toml, so the cwd default does not leak in."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_cfg(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "datamgr.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_config_file(in_empty_dir):
    s = Settings.load(env={})
    assert s.data_dir == Path("data")
    assert s.display_tz == "America/New_York"
    assert s.config_path is None
    assert s.merge_precedence[0] == "ninjatrader"
    assert s.lock_timeout > 0
    es = s.instrument("ES1")
    assert (es.calendar, es.tick_size, es.yahoo_symbol) == ("CME Globex Equity", 0.25, "ES=F")
    assert s.instrument("SPY").calendar == "NYSE extended"
    assert s.instrument("ZZ9").calendar == "CME Globex Equity" and s.instrument("ZZ9").ticker == "ZZ9"
    assert s.bar_path("ES1", "1m") == Path("data") / "ES1_1m.parquet"
    assert s.backups_dir == Path("data") / "backups" and s.journal_path == Path("data") / "journal.jsonl"


def test_a_config_file_sets_every_section(in_empty_dir):
    cfg = write_cfg(in_empty_dir, """
data_dir = "market"
display_tz = "America/Chicago"
lock_timeout = 2.5

[backup]
keep_last = 4
keep_daily_days = 9
destinations = ['/mnt/drive/{USER}/backups']

[yahoo]
auto_update = true

[merge]
precedence = ["yahoo", "ninjatrader"]

[instruments.ES1]
import_tz = "America/New_York"
tick_size = 0.5
sessions = { asia = ["18:00", "02:00"] }

[instruments.CL1]
yahoo_symbol = "CL=F"
tick_size = 0.01
""")
    s = Settings.load(config=cfg, env={})
    assert s.config_path == cfg
    assert s.data_dir == cfg.parent / "market" and s.display_tz == "America/Chicago" and s.lock_timeout == 2.5
    assert (s.backup_keep_last, s.backup_keep_daily_days) == (4, 9)
    assert s.backup_destinations == ("/mnt/drive/{USER}/backups",)
    assert "{USER}" not in str(s.expanded_destinations()[0])
    assert s.yahoo_auto_update is True
    assert s.merge_precedence == ("yahoo", "ninjatrader")
    es = s.instrument("ES1")
    assert (es.import_tz, es.tick_size, es.sessions) == ("America/New_York", 0.5, (("asia", "18:00", "02:00"),))
    assert es.yahoo_symbol == "ES=F"  # unspecified keys keep their defaults
    cl = s.instrument("CL1")
    assert (cl.yahoo_symbol, cl.tick_size, cl.calendar) == ("CL=F", 0.01, "CME Globex Equity")


def test_a_relative_data_dir_in_a_config_file_is_next_to_that_file(tmp_path):
    cfg = tmp_path / "conf" / "datamgr.toml"
    cfg.parent.mkdir()
    cfg.write_text('data_dir = "market"\n')
    assert Settings.load(config=cfg, env={}).data_dir == tmp_path / "conf" / "market"


def test_datamgr_toml_in_the_working_folder_is_picked_up(in_empty_dir):
    write_cfg(in_empty_dir, 'data_dir = "here"\n')
    assert Settings.load(env={}).data_dir == Path("here")


def test_env_datamgr_config_names_the_file(in_empty_dir, tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('display_tz = "UTC"\n')
    assert Settings.load(env={"DATAMGR_CONFIG": str(other)}).display_tz == "UTC"


def test_data_dir_precedence_is_flag_then_env_then_file(in_empty_dir):
    cfg = write_cfg(in_empty_dir, 'data_dir = "from-file"\n')
    assert Settings.load(config=cfg, env={}).data_dir == cfg.parent / "from-file"
    assert Settings.load(config=cfg, env={"DATAMGR_DATA_DIR": "from-env"}).data_dir == Path("from-env")
    assert Settings.load(data_dir="from-flag", config=cfg,
                         env={"DATAMGR_DATA_DIR": "from-env"}).data_dir == Path("from-flag")


def test_the_process_environment_is_used_by_default(in_empty_dir, monkeypatch):
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(in_empty_dir / "envdata"))
    assert Settings.load().data_dir == in_empty_dir / "envdata"


@pytest.mark.parametrize(("text", "key"), [
    ("data_dir = \n", None),                                        # not TOML
    ("colour = 'blue'\n", "colour"),                                # unknown top-level key
    ("[backup]\nkeep_lst = 3\n", "keep_lst"),                       # unknown key in a section
    ("[yahoo]\nauto = true\n", "auto"),
    ("[merge]\norder = []\n", "order"),
    ("[instruments.ES1]\ntick = 0.25\n", "tick"),                   # unknown instrument key
    ("display_tz = 'Mars/Olympus'\n", "display_tz"),                # bad zone
    ("[instruments.ES1]\nimport_tz = 'Nowhere/City'\n", "import_tz"),
    ("[instruments.ES1]\ntick_size = -1\n", "tick_size"),
    ("[backup]\nkeep_last = 'ten'\n", "keep_last"),                 # wrong type
    ("lock_timeout = 'soon'\n", "lock_timeout"),
    ("[merge]\nprecedence = 'yahoo'\n", "precedence"),
    ("[instruments.'../x']\ntick_size = 1\n", "../x"),              # ticker with a path trick
    ("[instruments.ES1]\ntick_size = 'quarter'\n", "tick_size"),
    ("[instruments.ES1]\nsessions = { asia = '18:00' }\n", "sessions"),
    ("backup = 3\n", "backup"),
])
def test_a_bad_config_raises_config_error_naming_the_file_and_key(in_empty_dir, text, key):
    cfg = write_cfg(in_empty_dir, text)
    with pytest.raises(ConfigError) as err:
        Settings.load(config=cfg, env={})
    msg = str(err.value)
    assert str(cfg) in msg
    if key:
        assert key in msg
    assert err.value.exit_code == 2


def test_a_missing_config_file_is_a_config_error(in_empty_dir):
    with pytest.raises(ConfigError, match="not found") as err:
        Settings.load(config=in_empty_dir / "nope.toml", env={})
    assert "nope.toml" in str(err.value)


@pytest.mark.parametrize("bad", ["../x", "..", "a/b", "a\\b", ".hidden", "", "ES 1", "ES1\x00", "/etc/passwd"])
def test_ticker_validation_refuses_path_tricks(bad, in_empty_dir):
    with pytest.raises(ConfigError, match="invalid ticker"):
        check_ticker(bad)
    s = Settings.load(env={})
    with pytest.raises(ConfigError):
        s.bar_path(bad, "1m")
    with pytest.raises(ConfigError):
        s.instrument(bad)


@pytest.mark.parametrize("good", ["ES1", "MES1", "SPY", "BRK.B", "ES-mini"])
def test_ordinary_tickers_are_accepted(good):
    assert check_ticker(good) == good


def test_an_unknown_timeframe_is_a_config_error(in_empty_dir):
    with pytest.raises(ConfigError, match="unknown timeframe '3m'"):
        Settings.load(env={}).bar_path("ES1", "3m")
