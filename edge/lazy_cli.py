"""A typer app whose subcommands live in modules imported only when asked for.

``talkratio-train`` and ``talkratio-export`` name a module per subcommand; each
module has a typer-annotated function ``cli``. Importing them all would load
torch (seconds) even for ``--help`` of a command that does not need it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import typer


def lazy_app(prog: str, help_text: str, commands: dict[str, str]) -> Callable[..., None]:
    """A ``main(argv=None)`` running ``prog`` with ``commands`` (name -> module)."""
    app = typer.Typer(
        help=help_text, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )

    @app.callback()
    def _group() -> None:
        """Keeps typer in subcommand mode when only one command is registered."""

    def main(argv: list[str] | None = None) -> None:
        argv = sys.argv[1:] if argv is None else argv
        wanted = [argv[0]] if argv and argv[0] in commands else list(commands)
        for name in wanted:
            app.command(name)(importlib.import_module(commands[name]).cli)
        app(args=argv, prog_name=prog)

    return main
