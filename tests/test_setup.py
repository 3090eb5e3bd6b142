"""The README's setup works as root (no sudo on a root-only Debian image) and as a user (sudo)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FAKE_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
{body}
"""


def _fake(folder: Path, name: str, log: Path, body: str = "exit 0") -> None:
    path = folder / name
    path.write_text(FAKE_TOOL.format(log=log, body=body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_readme_first_command_is_the_setup_script_without_sudo():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert commands[0].startswith("bash deploy/install.sh && ")
    assert "sudo" not in commands[0]


@pytest.mark.parametrize(("uid", "expected"), [("0", "apt-get"), ("1000", "sudo apt-get")])
def test_setup_uses_sudo_only_when_not_root(tmp_path, uid, expected):
    """deploy/install.sh with fake apt, dpkg, id and venv: what it would run, as root and not."""
    project, bin_dir, log = tmp_path / "project", tmp_path / "bin", tmp_path / "calls.log"
    (project / "deploy").mkdir(parents=True)
    (project / ".venv" / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(REPO / "deploy" / "install.sh", project / "deploy" / "install.sh")
    _fake(project / ".venv" / "bin", "python", log)
    _fake(bin_dir, "dpkg-query", log, "exit 1")  # nothing is installed
    _fake(bin_dir, "apt-get", log)
    _fake(bin_dir, "sudo", log, 'exec "$@"')
    _fake(bin_dir, "id", log, f"echo {uid}")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(project / "deploy" / "install.sh")], env=env, check=True)
    calls = log.read_text().splitlines()
    installs = [c for c in calls if "install -y" in c]
    assert installs and all("libportaudio2" in c for c in installs)
    assert any(c.startswith("sudo apt-get") for c in calls) == (expected == "sudo apt-get")
    assert any(c.startswith("python -m pip install") for c in calls)
