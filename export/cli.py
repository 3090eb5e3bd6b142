"""``talkratio-export``: checkpoint to ONNX fp32 and INT8, with parity checks.

Example:
    talkratio-export ds2 runs/ds2/best.pt --out ds2.onnx --int8
"""

from __future__ import annotations

import importlib
import sys

import typer

PROG = "talkratio-export"

# subcommand -> module whose ``cli`` function implements it
COMMANDS = {"ds2": "export.ds2", "voice": "export.voice"}

app = typer.Typer(
    help="Export trained checkpoints to ONNX (fp32 and INT8) with talkratio metadata.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Keeps typer in subcommand mode when only one command is registered."""


def main(argv: list[str] | None = None) -> None:
    """Import only the module of the command asked for (torch takes seconds to load)."""
    argv = sys.argv[1:] if argv is None else argv
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    for name in wanted:
        app.command(name)(importlib.import_module(COMMANDS[name]).cli)
    app(args=argv, prog_name=PROG)
