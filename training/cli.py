"""``talkratio-train``: data generation, AI-Hub import, training and evaluation.

Each subcommand lives in its own module as a typer-annotated function named
``cli``; this file only names them.

Example:
    talkratio-train synth --out /tmp/corpus --hours 0.2 --seed 1
"""

from __future__ import annotations

import importlib
import sys

import typer

PROG = "talkratio-train"

# subcommand -> module whose ``cli`` function implements it
COMMANDS = {
    "synth": "training.synth",
    "scenes": "training.scenes",
    "aihub": "training.aihub",
    "ds2": "training.ds2.train",
    "ds2-eval": "training.ds2.evaluate",
    "voice": "training.voice.train",
    "voice-eval": "training.voice.evaluate",
}

app = typer.Typer(
    help="Make data, import AI-Hub and train the talkratio models.",
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
