"""``talkratio``: the runtime's command line (commands arrive with the edge runtime)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Private Korean talk statistics on this device.", add_completion=False)


@app.command()
def models() -> None:
    """List the active models. Example: talkratio models"""
    typer.echo("no models bundled yet")


def main() -> None:
    app()
