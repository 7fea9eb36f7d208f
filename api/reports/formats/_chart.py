"""A report's `Chart` drawn as inline SVG for the PDF: a line or grouped bars of the y columns over x.

Rows that share an x value are summed (daily sales have a row per day and branch: the chart shows the day's
total); x values are sorted when x is a date or a number, else kept in the rows' order. Axes have "nice" ticks
with thousands separators, the x column's label below, the y unit beside, and a legend of the series. The SVG
uses no script and no external resource: WeasyPrint draws it with the page's fonts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import Any

from api.reports.definition import Chart, Column, Report
from api.reports.formats._common import label, taipei

WIDTH, HEIGHT = 760, 300  # portrait; landscape pages draw it wider, not taller
COLORS = ("#1f5fa8", "#e07b00", "#2a9d4b", "#c0392b", "#7d3c98", "#5d6d7e")
FONT = "'Noto Sans CJK TC', 'Noto Sans TC', sans-serif"
_TOP, _RIGHT, _BOTTOM = 28, 16, 52
_MAX_X_LABELS = 12
_SORTED_KINDS = ("date", "datetime", "int", "money", "decimal", "rate", "float")


def _number(value: Any) -> float | None:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    return None


def series(chart: Chart, report: Report, rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], list[list[float | None]]]:
    """The x values and, for each y column, its value at each x (rows sharing an x summed; None: no figure)."""
    names = [c.name for c in report.columns]
    x_at, y_at = names.index(chart.x), [names.index(y) for y in chart.y]
    sums: dict[Any, list[float | None]] = {}
    for row in rows:
        point = sums.setdefault(row[x_at], [None] * len(y_at))
        for i, at in enumerate(y_at):
            value = _number(row[at])
            if value is not None:
                point[i] = (point[i] or 0.0) + value
    xs = list(sums)
    if chart.top is not None and len(xs) > chart.top:
        xs = sorted(xs, key=lambda x: -sum(v or 0.0 for v in sums[x]))[:chart.top]
    elif report.column(chart.x).kind in _SORTED_KINDS and None not in sums:
        xs.sort()
    return xs, [[sums[x][i] for x in xs] for i in range(len(y_at))]


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about `count` steps."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [i * step for i in range(first, last + 1)]


def tick_text(value: float, step: float) -> str:
    places = next((p for p in range(7) if abs(step * 10**p - round(step * 10**p)) < 1e-6), 6)
    return f"{value:,.{places}f}"


def x_text(value: Any, same_year: bool) -> str:
    if isinstance(value, datetime):
        return taipei(value).strftime("%m-%d %H:%M" if same_year else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%m-%d" if same_year else "%Y-%m-%d")
    if isinstance(value, float | Decimal):
        return f"{value:,.2f}"
    return "—" if value is None else str(value)


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E7F else size * 0.58 for ch in text)


def svg(chart: Chart, report: Report, rows: Sequence[tuple[Any, ...]], width: int = WIDTH) -> str:
    """The chart as an `<svg>` element `width` units wide ("" when there is nothing to draw)."""
    xs, ys = series(chart, report, rows)
    values = [v for line in ys for v in line if v is not None]
    if not xs or not values:
        return ""
    grid = ticks(min(0.0, *values), max(0.0, *values))
    step = grid[1] - grid[0]
    labels = [tick_text(t, step) for t in grid]
    left = 30 + max(_text_width(t, 10) for t in labels)
    plot_w, plot_h = width - left - _RIGHT, HEIGHT - _TOP - _BOTTOM
    low, high = grid[0], grid[-1]

    def y_pos(value: float) -> float:
        return _TOP + plot_h * (high - value) / (high - low)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="{width}" '
           f'height="{HEIGHT}" font-family="{FONT}" font-size="10" class="chart-svg">']
    for tick, text in zip(grid, labels, strict=True):
        y = y_pos(tick)
        stroke = "#888" if tick == 0 else "#e3e3e3"
        out.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" stroke="{stroke}" '
                   'stroke-width="0.8"/>')
        out.append(f'<text x="{left - 6:.1f}" y="{y + 3.5:.1f}" text-anchor="end" fill="#444">{text}</text>')
    out.append(f'<line x1="{left:.1f}" y1="{_TOP}" x2="{left:.1f}" y2="{_TOP + plot_h}" stroke="#888"/>')
    band = plot_w / len(xs)
    centers = [left + band * (i + 0.5) for i in range(len(xs))]
    if chart.kind == "bar":
        out += _bars(ys, centers, band, y_pos)
    else:
        out += _lines(ys, centers, y_pos)
    out += _x_labels(report.column(chart.x), xs, centers, band, _TOP + plot_h)
    x_title = escape(label(report.column(chart.x)))
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" fill="#222" '
               f'font-size="11">{x_title}</text>')
    y_columns = [report.column(y) for y in chart.y]
    units = sorted({c.unit for c in y_columns if c.unit})
    y_title = escape(label(y_columns[0]) if len(y_columns) == 1 else " / ".join(units))
    mid = _TOP + plot_h / 2
    out.append(f'<text x="12" y="{mid:.1f}" text-anchor="middle" fill="#222" font-size="11" '
               f'transform="rotate(-90 12 {mid:.1f})">{y_title}</text>')
    out += _legend(y_columns, left + plot_w)
    out.append("</svg>")
    return "".join(out)


def _lines(ys: list[list[float | None]], centers: list[float], y_pos: Any) -> list[str]:
    out = []
    for i, line in enumerate(ys):
        color = COLORS[i % len(COLORS)]
        path, pen_down = [], False
        for x, value in zip(centers, line, strict=True):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y_pos(value):.1f}")
            pen_down = True
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="1.8" '
                   'stroke-linejoin="round"/>')
        if len(centers) <= 62:
            out += [f'<circle cx="{x:.1f}" cy="{y_pos(v):.1f}" r="2.2" fill="{color}"/>'
                    for x, v in zip(centers, line, strict=True) if v is not None]
    return out


def _bars(ys: list[list[float | None]], centers: list[float], band: float, y_pos: Any) -> list[str]:
    out = []
    width = band * 0.8 / len(ys)
    zero = y_pos(0.0)
    for i, line in enumerate(ys):
        color = COLORS[i % len(COLORS)]
        for center, value in zip(centers, line, strict=True):
            if value is None:
                continue
            x = center - band * 0.4 + i * width
            top = min(zero, y_pos(value))
            out.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(width - 0.6, 0.4):.1f}" '
                       f'height="{abs(zero - y_pos(value)):.1f}" fill="{color}"/>')
    return out


def _x_labels(column: Column, xs: list[Any], centers: list[float], band: float, base: float) -> list[str]:
    years = {x.year for x in xs if isinstance(x, date)}
    same_year = len(years) == 1 and all(isinstance(x, date) for x in xs)
    every = math.ceil(len(xs) / _MAX_X_LABELS)
    shown = list(range(0, len(xs), every))
    texts = [x_text(xs[i], same_year) for i in shown]
    rotate = max(_text_width(t, 10) for t in texts) > band * every - 4
    out = [f'<line x1="{centers[0] - band / 2:.1f}" y1="{base:.1f}" x2="{centers[-1] + band / 2:.1f}" '
           f'y2="{base:.1f}" stroke="#888"/>']
    for i, text in zip(shown, texts, strict=True):
        x, y = centers[i], base + 14
        out.append(f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}" stroke="#888"/>')
        shown_text = escape(text if len(text) <= 14 else text[:13] + "…")
        if rotate:
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" fill="#444" '
                       f'transform="rotate(-30 {x:.1f} {y:.1f})">{shown_text}</text>')
        else:
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="#444">{shown_text}</text>')
    return out


def _legend(columns: list[Column], right: float) -> list[str]:
    out, x = [], right
    for i, column in reversed(list(enumerate(columns))):
        text = escape(column.label_zh)
        x -= _text_width(column.label_zh, 10) + 22
        color = COLORS[i % len(COLORS)]
        out.append(f'<rect x="{x:.1f}" y="8" width="12" height="8" fill="{color}"/>'
                   f'<text x="{x + 16:.1f}" y="16" fill="#222">{text}</text>')
    return out
