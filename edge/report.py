"""A chart of talk over time per parent and the mother share (PNG, or HTML around it).

The HTML is one self-contained file (the chart inlined as base64): nothing is
fetched from anywhere when it is opened.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from edge.errors import UsageError
from edge.stats import Period

log = logging.getLogger(__name__)

REPORT_MODE = 0o600  # owner read/write only, like the database
FORMATS = (".png", ".html")
COLOURS = {"mother": "#c0392b", "father": "#2471a3", "share": "#333333"}
FIGURE_INCHES = (10, 4.5)
DPI = 110


def _figure(periods: Sequence[Period], labels: dict[str, str], by: str):
    import matplotlib

    matplotlib.use("Agg")  # no display on a home device
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=FIGURE_INCHES, dpi=DPI)
    x = list(range(len(periods)))
    width = 0.4
    for offset, role in ((-width / 2, "mother"), (width / 2, "father")):
        minutes = [p.summary.seconds[role] / 60 for p in periods]
        ax.bar([i + offset for i in x], minutes, width, label=labels[role], color=COLOURS[role])
    ax.set_ylabel("speech (minutes)")
    fmt = "%m-%d %H:00" if by == "hour" else "%Y-%m-%d"
    ax.set_xticks(x, [p.start.strftime(fmt) for p in periods], rotation=45, ha="right")
    share_axis = ax.twinx()
    shares = [p.summary.mother_share for p in periods]
    share_axis.plot(
        [i for i, s in zip(x, shares, strict=True) if s is not None],
        [s * 100 for s in shares if s is not None],
        "o-",
        color=COLOURS["share"],
        label=f"{labels['mother']} share",
    )
    share_axis.set_ylim(0, 100)
    share_axis.set_ylabel(f"{labels['mother']} share (%)")
    handles = ax.get_legend_handles_labels()[0] + share_axis.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left")
    ax.set_title(f"Talk per {by}")
    fig.tight_layout()
    return fig


def _png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _html(png: bytes, periods: Sequence[Period], labels: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(p.start.isoformat(timespec='minutes'))}</td>"
        f"<td>{p.summary.seconds['mother'] / 60:.1f}</td><td>{p.summary.seconds['father'] / 60:.1f}</td>"
        f"<td>{'' if p.summary.mother_share is None else f'{p.summary.mother_share:.0%}'}</td>"
        f"<td>{p.summary.turns}</td></tr>"
        for p in periods
    )
    female, male = html.escape(labels["mother"]), html.escape(labels["father"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>talkratio report</title></head>"
        "<body><h1>talkratio</h1>"
        f"<img alt='talk over time' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<table border='1'><tr><th>from</th><th>{female} (min)</th><th>{male} (min)</th>"
        f"<th>{female} share</th><th>turns</th></tr>{rows}</table></body></html>"
    )


def write_report(
    periods: Sequence[Period],
    out: str | Path,
    by: str = "hour",
    labels: dict[str, str] | None = None,
) -> Path:
    """Write the chart to ``out`` (``.png`` or ``.html``, chosen by suffix)."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"{out}: the report is written as .png or .html")
    if not periods:
        raise UsageError("no utterances in the chosen time range: nothing to draw")
    labels = {"mother": "mother", "father": "father"} | (labels or {})
    import matplotlib.pyplot as plt

    fig = _figure(periods, labels, by)
    try:
        png = _png_bytes(fig)
    finally:
        plt.close(fig)
    if out.suffix.lower() == ".png":
        _write_private(out, png)
    else:
        _write_private(out, _html(png, periods, labels).encode("utf-8"))
    log.info("report written to %s", out)
    return out


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only: a report is a family's talk over time."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, REPORT_MODE)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), REPORT_MODE)  # an older report's wider mode is not kept
        out.write(data)
