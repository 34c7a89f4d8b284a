"""The tradeoff plot of a report as SVG, drawn in plain Python: the core never imports Qt or pyqtgraph, and a
report must carry its picture inside itself.

It draws what the Tradeoff screen draws: quality against cost per answer on a logarithmic axis, a point per
model (circles local, diamonds API) with its 95% interval as a bar, the Pareto frontier as a line and the
recommended model ringed. Every label is escaped: a model's name is whatever its file or the user called it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

from desktop_app.units import format_usd

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 78, 36, 28, 64  # margins round the plotting area
QUALITY_RANGE = (-0.04, 1.06)  # as the Tradeoff screen shows it
LOCAL_COLOUR, API_COLOUR = "#2f6fde", "#8e44ad"
FRONTIER_COLOUR, HIGHLIGHT_COLOUR, TEXT_COLOUR, GRID_COLOUR = "#2e9d5b", "#f0a020", "#2b303b", "#e3e6ec"
COST = "cost_per_answer_usd"
LABEL_CHAR_WIDTH = 7.0  # about what a 12 px sans-serif letter takes, for keeping names apart


@dataclass(frozen=True)
class Point:
    model: str
    local: bool
    cost: float
    quality: float
    low: float | None
    high: float | None


def plotted(models: list[dict[str, Any]]) -> tuple[list[Point], list[str]]:
    """The models the plot can place, and for each other one why not, in words (a log axis has no $0)."""
    points, left_out = [], []
    for m in models:
        if m.get("quality") is None:
            left_out.append(f"{m['model']}: no graded answer")
        elif m.get(COST) is None:
            left_out.append(f"{m['model']}: no cost known")
        elif m[COST] <= 0:
            left_out.append(f"{m['model']}: costs $0 an answer, which a logarithmic axis cannot show")
        else:
            points.append(Point(m["model"], m.get("provider") == "llama.cpp", m[COST], m["quality"],
                                m.get("quality_low"), m.get("quality_high")))
    return points, left_out


def decades(points: list[Point]) -> tuple[int, int]:
    """The powers of ten the cost axis spans: at least one decade, with room on both sides of the points."""
    logs = [math.log10(p.cost) for p in points]
    low, high = math.floor(min(logs) - 0.15), math.ceil(max(logs) + 0.15)
    return low, max(high, low + 1)


class _Frame:
    """Data to pixels: log10 cost across, quality up."""

    def __init__(self, low_decade: int, high_decade: int) -> None:
        self.low, self.high = low_decade, high_decade
        self.width, self.height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(self, cost: float) -> float:
        return LEFT + (math.log10(cost) - self.low) / (self.high - self.low) * self.width

    def y(self, quality: float) -> float:
        bottom, top = QUALITY_RANGE
        return TOP + (top - quality) / (top - bottom) * self.height


def tradeoff_svg(models: list[dict[str, Any]], frontier: list[str], recommended: str | None) -> str:
    """The whole plot as one SVG document (models as `results --json` gives them)."""
    points, left_out = plotted(models)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
              f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">'),
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>']
    if not points:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, "No model has both a quality and a cost to plot yet",
                           anchor="middle"))
    else:
        frame = _Frame(*decades(points))
        parts += _axes(frame)
        parts += _frontier(frame, [p for name in frontier for p in points if p.model == name])
        labels: list[tuple[float, float, float]] = []
        for point in points:
            parts += _point(frame, point, point.model == recommended, labels)
    if left_out:
        parts.append(_text(LEFT, HEIGHT - 6, "Not plotted: " + "; ".join(left_out), size=11))
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(frame: _Frame) -> list[str]:
    """Grid lines and ticks: decades and 2x, 5x them across (as the app's log axis), tenths of a score up."""
    parts = []
    for decade in range(frame.low, frame.high + 1):
        for step in (1, 2, 5):
            value = step * 10.0 ** decade
            if decade == frame.high and step > 1:
                break
            x = frame.x(value)
            parts.append(_line(x, TOP, x, TOP + frame.height, GRID_COLOUR, 1 if step == 1 else 0.5))
            parts.append(_text(x, TOP + frame.height + 16, format_usd(value, 1), anchor="middle", size=11))
    for tick in range(0, 11, 2):
        quality = tick / 10
        y = frame.y(quality)
        parts.append(_line(LEFT, y, LEFT + frame.width, y, GRID_COLOUR, 1))
        parts.append(_text(LEFT - 8, y + 4, f"{quality:.0%}", anchor="end", size=11))
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{frame.width:.1f}" height="{frame.height:.1f}" '
                 f'fill="none" stroke="#9aa1ad"/>')
    parts.append(_text(LEFT + frame.width / 2, TOP + frame.height + 38, "cost per answer (USD, logarithmic)",
                       anchor="middle"))
    middle = TOP + frame.height / 2
    parts.append(f'<text x="18" y="{middle:.1f}" text-anchor="middle" fill="{TEXT_COLOUR}" '
                 f'transform="rotate(-90 18 {middle:.1f})">mean score (bar: 95% interval)</text>')
    return parts


def _frontier(frame: _Frame, points: list[Point]) -> list[str]:
    if len(points) < 2:
        return []
    path = " ".join(f"{frame.x(p.cost):.1f},{frame.y(p.quality):.1f}" for p in sorted(points, key=lambda p: p.cost))
    return [(f'<polyline points="{path}" fill="none" stroke="{FRONTIER_COLOUR}" stroke-width="2" '
             f'stroke-dasharray="6 4"/>')]


def _point(frame: _Frame, point: Point, recommended: bool, labels: list[tuple[float, float, float]]) -> list[str]:
    """A model's interval bar, its mark (a ring round the recommended one) and its name beside it, moved down
    a line at a time while it would cover a name already placed (`labels`: their left, right and baseline)."""
    x, y = frame.x(point.cost), frame.y(point.quality)
    colour = LOCAL_COLOUR if point.local else API_COLOUR
    parts = []
    if point.low is not None and point.high is not None:
        top, bottom = frame.y(point.high), frame.y(point.low)
        parts += [_line(x, top, x, bottom, colour, 1.5), _line(x - 5, top, x + 5, top, colour, 1.5),
                  _line(x - 5, bottom, x + 5, bottom, colour, 1.5)]
    if recommended:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="12" fill="none" stroke="{HIGHLIGHT_COLOUR}" '
                     f'stroke-width="3"/>')
    if point.local:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>')
    else:
        parts.append(f'<polygon points="{x:.1f},{y - 8:.1f} {x + 8:.1f},{y:.1f} {x:.1f},{y + 8:.1f} '
                     f'{x - 8:.1f},{y:.1f}" fill="{colour}"/>')
    label = point.model + (" (recommended)" if recommended else "")
    on_left = x > WIDTH - RIGHT - 180  # near the right edge the name goes to the left of its point
    width = LABEL_CHAR_WIDTH * len(label)
    left = x - 14 - width if on_left else x + 14
    baseline = y - 6
    while any(left < right and other < left + width and abs(baseline - line) < 15 for other, right, line in labels):
        baseline += 15
    labels.append((left, left + width, baseline))
    parts.append(_text(x - 14 if on_left else x + 14, baseline, label, anchor="end" if on_left else "start",
                       weight="bold" if recommended else "normal"))
    return parts


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, width: float) -> str:
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{width}"/>')


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12, weight: str = "normal") -> str:
    """A label; its text escaped, so a name holding markup is drawn as the characters it is."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
            f'fill="{TEXT_COLOUR}">{escape(text, quote=True)}</text>')
