"""``talkratio-export``: checkpoint to ONNX fp32 and INT8, with parity checks.

Example:
    talkratio-export ds2 runs/ds2/best.pt --out ds2.onnx --int8
"""

from __future__ import annotations

import importlib

import typer

COMMANDS = {"ds2": "export.ds2", "voice": "export.voice"}

app = typer.Typer(
    help="Export trained checkpoints to ONNX (fp32 and INT8) with talkratio metadata.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name, _module in COMMANDS.items():
    app.command(_name)(importlib.import_module(_module).cli)


def main() -> None:
    app()
