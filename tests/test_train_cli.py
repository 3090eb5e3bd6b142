"""talkratio-train / talkratio-export: every subcommand is there, and a data command
does not pay for loading torch."""

from __future__ import annotations

import subprocess
import sys

from export.cli import COMMANDS as EXPORT_COMMANDS
from training.cli import COMMANDS as TRAIN_COMMANDS

PROBE = """
import sys
from training.cli import main
try:
    main(["aihub", "--help"])
except SystemExit:
    pass
print("torch" in sys.modules)
"""


def test_data_commands_do_not_import_torch():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert "talkratio-train aihub" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_top_level_help_lists_every_subcommand():
    for module, commands in (("training.cli", TRAIN_COMMANDS), ("export.cli", EXPORT_COMMANDS)):
        code = f"from {module} import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        for name in commands:
            assert name in out.stdout, (module, name)
