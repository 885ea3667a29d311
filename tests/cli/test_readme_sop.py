"""The README's SOP block, run as written from a fresh shell on the real MES export.

The block is taken from README.md verbatim; only the export's path is substituted. Before it, the
README's one-time remember line runs with the export's real zone (``--tz "UTC"``: the real
``MES 09-25.Last.txt`` was written in UTC), so the block's verify and import lines use it.

The shell is ``env -i`` + ``bash --noprofile --norc`` with PATH=/usr/bin:/bin (no venv, no pyenv),
in a copy of the repository layout whose ``.venv`` is the virtual environment running the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require

MES = "MES 09-25.Last.txt"


def sop_blocks() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Standard operating procedure"):]
    return [[ln for ln in b.splitlines() if ln.strip()] for b in re.findall(r"```bash\n(.*?)```", section, re.S)]


def sop_block() -> list[str]:
    return sop_blocks()[0]


def remember_line() -> str:
    (line,) = sop_blocks()[1]
    return line


def test_the_sop_block_activates_the_venv_and_runs_the_five_scripts():
    lines = sop_block()
    assert lines[0] == ". .venv/bin/activate"
    assert [ln.split()[1] for ln in lines[1:]] == [
        "scripts/verify_import_alignment.py", "scripts/import_ninjatrader.py", "scripts/check_data_continuity.py",
        "scripts/regenerate_derived.py", "scripts/backup_to_gdrive.py"]


@pytest.mark.slow
def test_the_readme_sop_runs_as_written_from_a_fresh_shell(real_data_dir, tmp_path):
    if sys.prefix == sys.base_prefix:
        pytest.skip("the tests do not run in a virtual environment: nothing to stand in for .venv")
    export = real_data_dir / MES
    require(export if export.is_file() else None, MES, str(real_data_dir))
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(REPO / "scripts", repo / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "datamgr").symlink_to(REPO / "datamgr")
    (repo / ".venv").symlink_to(Path(sys.prefix))
    script = []
    first = remember_line().replace("path/to/ES Monday.csv", str(export)).replace(
        '--tz "America/Los_Angeles"', '--tz "UTC"')
    block = sop_block()
    script.append(f'{block[0]}\n{first}\necho "REMEMBER $?"')  # in the activated shell, once
    for ln in block:
        ln = ln.replace("path/to/ES Monday.csv", str(export))
        script.append(f'{ln}\necho "RC $? :: {ln.split()[1] if ln.startswith("python") else ln}"')
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-c", "\n".join(script)], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "REMEMBER 0" in proc.stdout, proc.stdout + proc.stderr
    assert (repo / "datamgr.toml").is_file() and 'import_tz = "UTC"' in (repo / "datamgr.toml").read_text()
    codes = re.findall(r"^RC (\d+) :: (.*)$", proc.stdout, re.M)
    assert len(codes) == 6, proc.stdout + proc.stderr
    assert all(rc == "0" for rc, _ in codes), "\n".join(f"{rc} {what}" for rc, what in codes) + proc.stderr
    assert "SUCCESS: Data is aligned." in proc.stdout
    assert (repo / "data" / "ES1_1m.parquet").is_file() and (repo / "data" / "ES1_profiler.json").is_file()
    assert "no cloud destinations" in proc.stdout or "OK" in proc.stdout


@pytest.mark.slow
def test_a_script_run_by_the_system_python_reexecs_with_the_project_venv(tmp_path):
    if sys.prefix == sys.base_prefix or not Path("/usr/bin/python3").exists():
        pytest.skip("needs a virtual environment and /usr/bin/python3")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(REPO / "scripts", repo / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "datamgr").symlink_to(REPO / "datamgr")
    (repo / ".venv").symlink_to(Path(sys.prefix))
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.run(["/usr/bin/python3", "scripts/regenerate_derived.py", "--help"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "regenerate" in proc.stdout
    os.unlink(repo / ".venv")
    proc = subprocess.run(["/usr/bin/python3", "scripts/regenerate_derived.py", "--help"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:  # the system python has no requirements: one clear message
        assert proc.returncode == 2 and "python3 -m venv .venv" in proc.stderr
