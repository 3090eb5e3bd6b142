"""Bar charts as inline SVG drawn on the server: no script, no library, nothing fetched.

Colours are SVG presentation attributes (allowed by the strict Content-Security-
Policy, unlike inline ``style``); every bar carries a ``<title>`` so a screen
reader, or a long press, tells its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

COLOURS = {"mother": "#d1495b", "father": "#2f6fb0", "child": "#e8a33d"}
WIDTH, HEIGHT = 360, 190  # viewBox units; CSS scales the chart to the phone's width
LEFT, RIGHT, TOP, BOTTOM = 34, 6, 10, 24  # margins for the axis labels
NICE_MINUTES = (2, 4, 6, 10, 20, 30, 40, 60, 90, 120, 180, 240, 360, 480, 720)  # halves are whole
BAR_FILL_RATIO = 0.72  # the bars of one group take 72% of its slot: gaps stay visible


@dataclass(frozen=True)
class Group:
    """One slot on the x axis: its tick label (empty: none drawn) and minutes per role."""

    label: str
    name: str  # spoken name in the bar titles, e.g. "9시"
    minutes: dict[str, float]


def axis_top(largest: float) -> int:
    """The smallest round number of minutes at or above ``largest``."""
    return next((m for m in NICE_MINUTES if m >= largest), int(largest) + 1)


def _bar(
    x: float, width: float, minutes: float, below: float, top: int, role: str, title: str
) -> str:
    """One bar (or stacked segment) of ``minutes`` standing on ``below`` minutes."""
    per_minute = (HEIGHT - TOP - BOTTOM) / top
    h = per_minute * minutes
    y = HEIGHT - BOTTOM - per_minute * below - h
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
        f'fill="{COLOURS[role]}"><title>{escape(title)}</title></rect>'
    )


def _axis(top: int) -> list[str]:
    parts = []
    for value in (0, top / 2, top):
        y = HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d9d9d9" stroke-width="1"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{value:g}분</text>'
        )
    return parts


def bar_chart(
    groups: Sequence[Group], roles: Sequence[str], labels: dict, title: str, stacked: bool = False
) -> Markup:
    """Bars of minutes per role for each group, side by side or ``stacked`` (wider bars for
    many groups on a phone), over a light grid in minutes."""
    sums = [
        sum(g.minutes.values()) if stacked else max(g.minutes.values(), default=0.0) for g in groups
    ]
    top = axis_top(max(sums, default=0.0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(groups))
    bar_w = slot * BAR_FILL_RATIO / (1 if stacked else len(roles))
    parts = _axis(top)
    for i, group in enumerate(groups):
        x0, below = LEFT + i * slot + slot * (1 - BAR_FILL_RATIO) / 2, 0.0
        for j, role in enumerate(roles):
            minutes = group.minutes.get(role, 0.0)
            if minutes > 0:
                text = f"{group.name} {labels[role]} {minutes:.1f}분"
                x = x0 if stacked else x0 + j * bar_w
                parts.append(_bar(x, bar_w, minutes, below, top, role, text))
                below += minutes if stacked else 0.0
        if group.label:
            parts.append(
                f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - 7}" '
                f'text-anchor="middle" font-size="11" fill="#555">{escape(group.label)}</text>'
            )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def minutes_by_role(summary: dict, roles: Sequence[str]) -> dict[str, float]:
    return {role: summary[f"{role}_s"] / 60 for role in roles}
