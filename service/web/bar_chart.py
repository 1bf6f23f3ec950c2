"""Bar charts as inline SVG, drawn on the server.

A small writer of our own rather than a charting library: pygal, the usual choice for server-side SVG,
styles its charts with a `<style>` element inside the SVG and adds `<script>` tags, and the app's
Content-Security-Policy (`style-src 'self'`, no script) blocks both; its charts also carry no text
alternative (role="img", a labelled title). These charts are plain shapes styled by classes from the
app's stylesheet, each with a `<title>` and a `<desc>` that name every number, and the page shows the
same numbers as a table beside the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 24, 40


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    # The bar's name in the chart's description, when the axis label is short ("jan" for "januari").
    name: str = ""


def _ceiling(largest: int) -> int:
    """A round top for the axis: 1, 2 or 5 times a power of ten, at least the largest value."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= largest:
                return max(factor * step, 1)
        step *= 10


def _e(text: str) -> str:
    return escape(text, quote=True)


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], unit: str = "") -> str:
    """An SVG bar chart named by `title`; its description lists each bar's label and value."""
    top = _ceiling(max((bar.value for bar in bars), default=0))
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    slot = plot_width / max(len(bars), 1)
    description = ", ".join(f"{bar.name or bar.label}: {bar.value}{unit}" for bar in bars)
    parts = [
        f'<svg class="diagram" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" focusable="false"'
        f' aria-labelledby="{chart_id}-titel {chart_id}-beskrivning" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-titel">{_e(title)}</title>',
        f'<desc id="{chart_id}-beskrivning">{_e(description)}</desc>',
    ]
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = _TOP + plot_height - plot_height * tick / top
        parts.append(
            f'<line class="diagram-linje" x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}"/>'
            f'<text class="diagram-skala" x="{_LEFT - 8}" y="{y + 5:.1f}" text-anchor="end">{tick}</text>'
        )
    for index, bar in enumerate(bars):
        height = plot_height * bar.value / top
        x = _LEFT + index * slot + slot * 0.15
        y = _TOP + plot_height - height
        parts.append(
            f'<rect class="diagram-stapel" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}"'
            f' height="{height:.1f}"/>'
        )
        if bar.value:
            parts.append(
                f'<text class="diagram-varde" x="{x + slot * 0.35:.1f}" y="{y - 6:.1f}"'
                f' text-anchor="middle">{bar.value}</text>'
            )
        parts.append(
            f'<text class="diagram-etikett" x="{x + slot * 0.35:.1f}" y="{HEIGHT - _BOTTOM + 24}"'
            f' text-anchor="middle">{_e(bar.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
