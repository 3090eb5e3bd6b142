"""``talkratio-train``: data generation, AI-Hub import, training and evaluation.

Each subcommand lives in its own module as a typer-annotated function named
``cli``; this file only names them.

Example:
    talkratio-train synth --out /tmp/corpus --hours 0.2 --seed 1
"""

from __future__ import annotations

import importlib

import typer

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

for _name, _module in COMMANDS.items():
    app.command(_name)(importlib.import_module(_module).cli)


def main() -> None:
    app()
