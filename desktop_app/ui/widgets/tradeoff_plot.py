"""The tradeoff scatter: one point per model, quality against cost (or speed, size), with its frontier."""

from __future__ import annotations

import html
import itertools
import math
import os.path
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QImage, QPainter, QResizeEvent
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QWidget

from desktop_app.analysis.summary import ModelSummary
from desktop_app.analysis.tradeoff import Axis
from desktop_app.ui.formatting import MISSING, format_ms, format_rate, format_usd
from desktop_app.units import format_bytes

POINT_COLOUR = "#2f6fde"
API_COLOUR = "#8e44ad"  # API models: purple diamonds; local models: blue circles
API_SPOT = {"symbol": "d", "brush": pg.mkBrush(API_COLOUR), "size": 15}
FRONTIER_COLOUR = "#2e9d5b"
HIGHLIGHT_COLOUR = "#f0a020"
TEXT_COLOUR = "#2b303b"
CAVEAT_COLOUR = "#8a5a00"
CAVEAT_MARK = " *"  # after the label of a model whose figures carry measurement notes (drawn hollow, too)


def _hollow(colour: str) -> dict[str, object]:
    """A point drawn as an outline: its figures were measured under conditions its tooltip explains."""
    return {"brush": pg.mkBrush(255, 255, 255, 235), "pen": pg.mkPen(colour, width=2.4)}


Box = tuple[float, float, float, float]  # left, bottom, right, top, in pixels with y growing upwards
NAME_BREAKS = set(".-_ /:@")  # where a shortened name may start
NEAR_PLACES = 8  # of a label's candidate places, those touching its point (the rest are a line or more off)


def label_text(summary: ModelSummary) -> str:
    return summary.model + (CAVEAT_MARK if summary.measurement_notes else "")


QUALITY_RANGE = (-0.04, 1.06)
QUALITY_LABEL = "mean score (bar: 95% interval)"
SHORT_QUALITY_LABEL = "mean score"  # where the plot is too short for the whole axis title


def _format_size_tick(value: float) -> str:
    # Decimal units: log ticks fall on powers of ten, which binary units would print as 95.4 MiB.
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} B"


TICK_FORMATS: dict[str, Callable[[float], str]] = {
    "cost_per_answer_usd": lambda v: format_usd(v, 1),
    "wall_time_ms": format_ms,
    "tokens_per_second": lambda v: f"{v:g}",
    "file_size": _format_size_tick,
}


class _ValueAxis(pg.AxisItem):
    """Tick labels in the axis's own units ($, ms, MB) on a linear or a logarithmic axis."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.format_tick: Callable[[float], str] = lambda v: f"{v:g}"

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        """On a log axis: decades, then 2 and 5 times them, then unlabelled minor ticks (maxTextLevel=1)."""
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        low, high = sorted((minVal, maxVal))
        decades = range(math.floor(low), math.ceil(high) + 1)

        def at(steps: tuple[int, ...]) -> list[float]:
            return [d + math.log10(s) for d in decades for s in steps if low <= d + math.log10(s) <= high]

        if high - low > 6:
            return [(1.0, at((1,)))]
        return [(1.0, at((1,))), (0.5, at((2, 5))), (0.1, at((3, 4, 6, 7, 8, 9)))]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        real = [10 ** v for v in values] if self.logMode else [v * scale for v in values]
        try:
            return [self.format_tick(v) for v in real]
        except (ArithmeticError, ValueError):  # an exception raised while painting can crash PySide
            return [f"{v:g}" for v in real]


@dataclass(frozen=True)
class PlottedModel:
    summary: ModelSummary
    x: float  # plot coordinate: log10 of the shown value on a log axis
    y: float  # quality, 0..1
    value: float  # the value drawn on the axis (after clamping)
    clamped: bool  # a zero value drawn at half the smallest positive one, to fit the log axis


class TradeoffPlot(pg.PlotWidget):
    model_clicked = Signal(str)  # a model key

    def __init__(self, parent: QWidget | None = None) -> None:
        bottom_axis = _ValueAxis("bottom")
        super().__init__(parent, background="w", axisItems={"bottom": bottom_axis})
        self.bottom_axis = bottom_axis
        self.setObjectName("tradeoffPlot")
        self.setMinimumSize(420, 220)  # 900 x 600: the plot shrinks, nothing overlaps it
        item = self.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=True, alpha=0.12)
        self.label_font = QFont(self.font())
        self.label_font.setPointSizeF(max(8.0, self.font().pointSizeF() * 0.95))
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen("#9aa1ad"))
            axis.setTextPen(pg.mkPen(TEXT_COLOUR))
            axis.setTickFont(self.label_font)
            axis.enableAutoSIPrefix(False)  # else it appends "(x1e-06)" to the label
            axis.setStyle(maxTextLevel=1)
        left = item.getAxis("left")
        left.setTicks([[(v / 100, f"{v}%") for v in range(0, 101, 20)],
                       [(v / 100, "") for v in range(10, 100, 20)]])
        # Quality is the mean score over the cases; the bar is its 95% bootstrap interval (analysis.stats).
        item.setLabel("left", QUALITY_LABEL, color=TEXT_COLOUR)
        item.getViewBox().setMouseEnabled(x=True, y=True)

        self.frontier_curve = pg.PlotCurveItem(
            pen=pg.mkPen(FRONTIER_COLOUR, width=2, style=Qt.PenStyle.DashLine), antialias=True)
        self.error_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0),
                                          pen=pg.mkPen("#8796b3", width=1.5))
        self.highlight = pg.ScatterPlotItem(size=24, symbol="o", pen=pg.mkPen(HIGHLIGHT_COLOUR, width=3),
                                            brush=pg.mkBrush(255, 255, 255, 0), antialias=True)
        self.scatter = pg.ScatterPlotItem(size=13, pen=pg.mkPen("w", width=1.5), brush=pg.mkBrush(POINT_COLOUR),
                                          hoverable=True, hoverSize=16, tip=self._tip, antialias=True)
        self.scatter.setZValue(10)
        self.highlight.setZValue(9)
        for graphic in (self.frontier_curve, self.error_bars, self.highlight, self.scatter):
            item.addItem(graphic)
        legend = item.addLegend(offset=(-10, -10), labelTextColor=TEXT_COLOUR, brush=pg.mkBrush(255, 255, 255, 220),
                                pen=pg.mkPen("#d5d9e0"))
        legend.addItem(self.scatter, "local model")
        self.api_legend = pg.ScatterPlotItem(pen=pg.mkPen("w", width=1.5), **API_SPOT)
        legend.addItem(self.api_legend, "API model")
        legend.addItem(self.frontier_curve, "Pareto frontier")
        legend.addItem(self.highlight, "recommended")
        self.legend = legend
        self.caveat_legend = pg.ScatterPlotItem(size=13, **_hollow(POINT_COLOUR))
        self._caveat_in_legend = False
        self.scatter.sigClicked.connect(self._on_clicked)
        self.scatter.sigHovered.connect(self._on_hovered)

        self.axis: Axis | None = None
        self.log_x = False
        self.points: dict[str, PlottedModel] = {}
        self.frontier_keys: list[str] = []
        self.recommended_key: str | None = None
        self.labels: dict[str, pg.TextItem] = {}
        self._key_items: list[pg.ScatterPlotItem] = []  # legend lines for points labelled by a number
        # Where no corner of the plot is free of points, the legend is one line under the plot instead.
        self.legend_strip = pg.LabelItem(justify="left", color=TEXT_COLOUR,
                                         size=f"{self.label_font.pointSizeF():g}pt")
        self.legend_strip.setObjectName("legendStrip")
        self.legend_strip.hide()
        self._strip_for: tuple[int, int] | None = None  # the widget's size when the strip was chosen
        self._relayout = QTimer(self, singleShot=True, interval=50, timeout=self._layout)

    # Data ----------------------------------------------------------------------------------

    def show_models(self, models: Sequence[ModelSummary], axis: Axis, frontier: Sequence[ModelSummary],
                    recommended: str | None) -> None:
        """Plot models that have a quality and a value on the axis; the caller lists the others."""
        models = [m for m in models if m.quality is not None and getattr(m, axis.key) is not None]
        values = {m.model: float(getattr(m, axis.key)) for m in models}
        positive = [v for v in values.values() if v > 0]
        # With nothing above zero (say an electricity price of 0) a log axis has nothing to show: go linear.
        self.log_x = axis.log_scale and bool(positive)
        floor = min(positive) / 2 if self.log_x else 0.0
        self.axis = axis
        self.points = {}
        for m in models:
            clamped = self.log_x and values[m.model] <= 0
            shown = floor if clamped else values[m.model]
            self.points[m.model] = PlottedModel(m, math.log10(shown) if self.log_x else shown, m.quality,
                                                shown, clamped)
        self.frontier_keys = [m.model for m in frontier if m.model in self.points]
        self.recommended_key = recommended if recommended in self.points else None
        self._strip_for = None  # new points: the legend may fit in a corner again

        item = self.getPlotItem()
        self.bottom_axis.setLogMode(self.log_x)
        self.bottom_axis.format_tick = TICK_FORMATS.get(axis.key, lambda v: f"{v:g}")
        label = axis.label[:-1] + ", log)" if self.log_x and axis.label.endswith(")") else axis.label
        item.setLabel("bottom", label, color=TEXT_COLOUR)

        points = list(self.points.values())
        def spot(p: PlottedModel) -> dict[str, object]:
            style: dict[str, object] = {} if p.summary.is_local else dict(API_SPOT)
            if p.summary.measurement_notes:
                style.update(_hollow(POINT_COLOUR if p.summary.is_local else API_COLOUR))
            return {"pos": (p.x, p.y), "data": p.summary.model, **style}

        self.scatter.setData(spots=[spot(p) for p in points])
        noted = any(p.summary.measurement_notes for p in points)
        if noted != self._caveat_in_legend:
            if noted:
                self.legend.addItem(self.caveat_legend, "* measured with a caveat (hover it)")
            else:
                self.legend.removeItem(self.caveat_legend)
            self._caveat_in_legend = noted
        xs = np.array([p.x for p in points], dtype=float)
        ys = np.array([p.y for p in points], dtype=float)
        top = np.array([max(0.0, (p.summary.quality_high if p.summary.quality_high is not None else p.y) - p.y)
                        for p in points], dtype=float)
        bottom = np.array([max(0.0, p.y - (p.summary.quality_low if p.summary.quality_low is not None else p.y))
                           for p in points], dtype=float)
        self.error_bars.setData(x=xs, y=ys, top=top, bottom=bottom)
        recommended_point = self.points.get(self.recommended_key) if self.recommended_key else None
        self.highlight.setData(spots=[{"pos": (recommended_point.x, recommended_point.y)}]
                               if recommended_point else [])
        for text in self.labels.values():
            item.removeItem(text)
        self.labels = {}
        for p in points:
            text = pg.TextItem(text=label_text(p.summary),  # plain text, never HTML
                               color=CAVEAT_COLOUR if p.summary.measurement_notes else TEXT_COLOUR)
            text.setFont(self.label_font)
            text.textItem.document().setDocumentMargin(1)  # its box is its text: labels pack closer
            item.addItem(text)
            text.setPos(p.x, p.y)
            self.labels[p.summary.model] = text
        self._layout()

    def clear_models(self) -> None:
        self.show_models([], self.axis or Axis("cost_per_answer_usd", "cost per answer (USD)", True, True), [], None)

    def frontier_path(self, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        """The frontier as a staircase through its models, from the best on the axis to the view's edge.

        A staircase rather than straight segments: for any budget, the best quality you can get is
        that of the best frontier model within it, so quality stays flat until the next model's cost
        and only then steps up. A slanted line would promise in-between models that do not exist.
        Past the last model the line runs flat to the edge (more money buys nothing better), which
        also draws a frontier of one model.
        """
        xs: list[float] = []
        ys: list[float] = []
        for i, key in enumerate(self.frontier_keys):
            point = self.points[key]
            if i:
                xs.append(point.x)
                ys.append(ys[-1])
            xs.append(point.x)
            ys.append(point.y)
        if not xs:
            return np.zeros(0), np.zeros(0)
        xs.append(high if self.axis is None or self.axis.lower_is_better else low)
        ys.append(ys[-1])
        return np.array(xs), np.array(ys)

    # Layout: ranges and labels --------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.__dict__.get("points"):  # pyqtgraph resizes before __init__ has finished
            self._relayout.start()  # the view's size settles after this event

    def _view_size(self) -> tuple[float, float]:
        view = self.getPlotItem().getViewBox()
        width, height = view.width(), view.height()
        if width < 100 or height < 100:  # not laid out yet: guess from the widget
            width, height = max(self.width() - 80, 400), max(self.height() - 60, 250)
        return width, height

    def _layout(self) -> None:
        """Fit the range to the points with room for their labels, then place labels clear of each other."""
        points = list(self.points.values())
        item = self.getPlotItem()
        if item is None:  # the widget was closed while a relayout was pending
            return
        item.setYRange(*QUALITY_RANGE, padding=0)
        if not points:
            self.frontier_curve.setData(np.zeros(0), np.zeros(0))
            self._show_key([])
            return
        width_px, height_px = self._view_size()
        title = QUALITY_LABEL if QFontMetricsF(self.font()).horizontalAdvance(QUALITY_LABEL) < height_px - 8 \
            else SHORT_QUALITY_LABEL
        if item.getAxis("left").labelText != title:
            item.setLabel("left", title, color=TEXT_COLOUR)
        metrics = QFontMetricsF(self.label_font)
        label_width = max(metrics.horizontalAdvance(label_text(p.summary)) for p in points) + 14
        low, high = min(p.x for p in points), max(p.x for p in points)
        smallest_span = 1.0 if self.log_x else max(abs(high) * 0.5, 1.0)
        if high - low < smallest_span:
            middle = (high + low) / 2
            low, high = middle - smallest_span / 2, middle + smallest_span / 2
        pad = (high - low) * 0.08
        low, high = low - pad, high + pad
        if not self.log_x and min(p.x for p in points) >= 0:
            low = max(low, -pad / 2)  # speeds and sizes are never negative
        # Room on the right for the longest label, as a share of the view (at most half of it).
        share = min(0.5, label_width / width_px)
        high += (high - low) * share / (1 - share)
        item.setXRange(low, high, padding=0)
        path = self.frontier_path(low, high)
        self.frontier_curve.setData(*path)
        beam = (high - low) * 10 / width_px  # 10 px wide, in data units
        self.error_bars.setData(beam=beam)
        self._place_labels(low, high, width_px, height_px, path)

    def _place_labels(self, low: float, high: float, width_px: float, height_px: float,
                      frontier: tuple[np.ndarray, np.ndarray]) -> None:
        """Each point's name where it covers no other label, point, line or the legend: the full name, else the
        part that tells it from the others, else a number the legend explains; the tooltip has it all."""
        y_low, y_high = QUALITY_RANGE

        def to_px(x: float, y: float) -> tuple[float, float]:  # y grows upwards, like the plot
            return (x - low) / (high - low) * width_px, (y - y_low) / (y_high - y_low) * height_px

        marker = 8.0
        centres = {key: to_px(p.x, p.y) for key, p in self.points.items()}
        taken: list[Box] = [(x - marker, y - marker, x + marker, y + marker) for x, y in centres.values()]
        # The frontier's segments are obstacles too: a label must not sit on the line.
        line = [to_px(x, y) for x, y in zip(*frontier)]
        for (x0, y0), (x1, y1) in itertools.pairwise(line):
            taken.append((min(x0, x1) - 2, min(y0, y1) - 2, max(x0, x1) + 2, max(y0, y1) + 2))
        # Interval bars: better not crossed, but a label may cross one when nothing else is left.
        bars = [(x - 1.5, to_px(0, p.summary.quality_low)[1], x + 1.5, to_px(0, p.summary.quality_high)[1])
                for (x, _), p in zip(centres.values(), self.points.values())
                if p.summary.quality_low is not None and p.summary.quality_high is not None]
        legend = self._place_legend(taken + bars, width_px, height_px)
        if legend is not None:
            taken.append(legend)
        short = distinguishing_names(list(self.points))
        numbered: list[tuple[str, str]] = []
        for point in sorted(self.points.values(), key=lambda p: (-p.y, p.x)):
            key = point.summary.model
            label = self.labels[key]
            mark = CAVEAT_MARK if point.summary.measurement_notes else ""
            texts = list(dict.fromkeys([label_text(point.summary), short[key] + mark]))
            spot = None
            for near, text in ((True, texts[0]), (True, texts[-1]), (False, texts[0]), (False, texts[-1])):
                spot = self._spot_for(label, text, centres[key], marker, taken, bars, width_px, height_px, near)
                if spot:
                    break
            else:  # no room for a name: a number, explained in the legend
                number = str(len(numbered) + 1)
                numbered.append((number, key))
                spot = self._spot_for(label, number, centres[key], marker, taken, bars, width_px, height_px)
            label.setVisible(spot is not None)
            if spot is not None:
                anchor, box = spot
                taken.append(box)
                label.setAnchor(anchor)
                label.setPos(point.x, point.y)
        if numbered and legend is not None:  # the key would grow the legend over the labels: under the plot
            self._strip_for = (self.width(), self.height())
            self._show_strip(True)
        self._show_key(numbered)

    @staticmethod
    def _spot_for(label: pg.TextItem, text: str, centre: tuple[float, float], marker: float, taken: list[Box],
                  bars: list[Box], width_px: float, height_px: float,
                  near: bool = True) -> tuple[tuple[float, float], Box] | None:
        """Sets `text` on `label` and finds it a free place by its point (`near`: touching it, else a few lines
        above or below): the anchor and the box it covers."""
        label.setText(text)
        size = label.textItem.boundingRect()
        boxes = _candidate_boxes(centre, size.width(), size.height(), marker + 1)
        boxes = boxes[:NEAR_PLACES] if near else boxes[NEAR_PLACES:]
        for obstacles in (taken + bars, taken):
            for box in boxes:
                # A pixel of air around it: drawn, a box's edges round outwards to whole pixels.
                clear = (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1)
                if _inside(box, width_px, height_px) and not any(_overlap(clear, t) for t in obstacles):
                    x, y = centre  # the anchor: where the point falls in the text's own box (y from the top)
                    return ((x - box[0]) / size.width(), (box[3] - y) / size.height()), clear
        return None

    def _place_legend(self, obstacles: list[Box], width_px: float, height_px: float) -> Box | None:
        """The legend goes to a corner where it hides no point, line or bar (its box is returned, an obstacle
        for the labels), else to a line under the plot (None), which stays while the plot keeps its size."""
        size_now = (self.width(), self.height())
        if self._strip_for == size_now:
            return None
        corner, box, hidden = self._best_corner(obstacles, width_px, height_px)
        if hidden:
            self._strip_for = size_now
            self._show_strip(True)
            return None
        self.legend.anchor(*corner)
        self._show_strip(False)
        return box

    def _show_strip(self, strip: bool) -> None:
        """The legend as a box in the plot or as a line under it; the plot's height changes, so lay out again."""
        layout = self.getPlotItem().layout
        if strip == self.legend_strip.isVisible() and strip == (self.legend_strip.parentItem() is not None):
            return
        self.legend.setVisible(not strip)
        if strip:
            layout.addItem(self.legend_strip, 4, 1)
            self.legend_strip.show()
        else:
            layout.removeItem(self.legend_strip)
            self.legend_strip.hide()
            self.legend_strip.setParentItem(None)
        self._relayout.start()

    def _best_corner(self, obstacles: list[Box], width_px: float, height_px: float) -> tuple[tuple, Box, int]:
        """The corner where the legend covers the fewest obstacles: (anchor, its box, how many it covers)."""
        self.legend.updateSize()
        size = self.legend.boundingRect()
        w, h, m = size.width(), size.height(), 10.0
        corners = [  # (the legend's anchor and the view's, offset; the box it then covers, y up)
            (((1, 1), (1, 1), (-m, -m)), (width_px - m - w, m, width_px - m, m + h)),
            (((1, 0), (1, 0), (-m, m)), (width_px - m - w, height_px - m - h, width_px - m, height_px - m)),
            (((0, 0), (0, 0), (m, m)), (m, height_px - m - h, m + w, height_px - m)),
            (((0, 1), (0, 1), (m, -m)), (m, m, m + w, m + h)),
        ]
        hidden = [(sum(_overlap(box, o) for o in obstacles), n) for n, (_, box) in enumerate(corners)]
        count, best = min(hidden)
        return corners[best][0], corners[best][1], count

    def _show_key(self, numbered: list[tuple[str, str]]) -> None:
        """The legend explains the points labelled by a number (and names those that got no label)."""
        for item in self._key_items:
            self.legend.removeItem(item)
        self._key_items = []
        keys = [html.escape(f"{number} = {key}" if self.labels[key].isVisible() else f"{key} (hover the points)")
                for number, key in numbered]
        for text in keys:
            entry = pg.ScatterPlotItem(size=0, pen=None, brush=None)  # text only
            self.legend.addItem(entry, text)
            self._key_items.append(entry)
        symbols = [(POINT_COLOUR, "●", "local model"), (API_COLOUR, "◆", "API model"),
                   (FRONTIER_COLOUR, "– –", "Pareto frontier"), (HIGHLIGHT_COLOUR, "◯", "recommended")]
        if self._caveat_in_legend:
            symbols.append((POINT_COLOUR, "○", "* measured with a caveat (hover it)"))
        line = "&nbsp;&nbsp;&nbsp;".join(f"<span style='color:{colour}'>{symbol}</span>&nbsp;{name}"
                                         for colour, symbol, name in symbols)
        self.legend_strip.setText(line + ("<br>" + " · ".join(keys) if keys else ""))

    # Hover and click --------------------------------------------------------------------

    def tooltip(self, key: str) -> str:
        """What a point stands for, as rich text with the model's name escaped."""
        point = self.points[key]
        m = point.summary
        rows = []
        if m.quality is not None:
            interval = (f" (95% interval {m.quality_low:.0%}–{m.quality_high:.0%})"
                        if m.quality_low is not None and m.quality_high is not None else "")
            rows.append(("quality", f"{m.quality:.0%}{interval}"))
        rows.append(("passed", f"{m.passed} of {m.graded} graded ({m.answered} of {m.cases} answered"
                               + (f", {m.errors} failed)" if m.errors else ")")))
        cost = format_usd(m.cost_per_answer_usd)
        if point.clamped and self.axis and self.axis.key == "cost_per_answer_usd":
            cost += f" — drawn at {format_usd(point.value)} to fit the log scale"
        rows.append(("cost / answer", cost))
        rows.append(("$ / M tokens", format_usd(m.cost_per_million_tokens_usd)))
        rows.append(("speed", format_rate(m.tokens_per_second)))
        rows.append(("time / answer", format_ms(m.wall_time_ms) + " (median)"))
        if m.is_local:
            size = MISSING if m.file_size is None else format_bytes(m.file_size)
            rows.append(("file size", size + (f" · {m.quantization}" if m.quantization else "")))
            rows.append(("runs on", "this machine (llama.cpp)"))
        else:
            rows.append(("runs on", f"{m.provider} API"))
        if point.clamped and self.axis and self.axis.key != "cost_per_answer_usd":
            rows.append(("note", f"0 drawn at {point.value:g} to fit the log scale"))
        notes = []
        if key == self.recommended_key:
            notes.append("recommended")
        if key in self.frontier_keys:
            notes.append("on the Pareto frontier")
        if m.threads and m.is_local:
            rows.append(("threads", f"{m.threads} CPU thread{'s' if m.threads != 1 else ''}"))
        table = "".join(f"<tr><td style='color:#5b6270; padding-right:8px'>{html.escape(name)}</td>"
                        f"<td>{html.escape(value)}</td></tr>" for name, value in rows)
        extra = f"<br><i>{html.escape(', '.join(notes))}</i>" if notes else ""
        caveats = "".join(f"<br>* {html.escape(note[:1].upper() + note[1:])}." for note in m.measurement_notes)
        caveats = f"<p style='color:{CAVEAT_COLOUR}; margin:4px 0'>{caveats[4:]}</p>" if caveats else ""
        return (f"<b>{html.escape(m.model)}</b>{extra}<table>{table}</table>{caveats}"
                f"<span style='color:#5b6270'>Click to open its answers.</span>")

    def _tip(self, x: float, y: float, data: str) -> str:
        return self.tooltip(data) if data in self.points else ""

    def _on_clicked(self, _item: pg.ScatterPlotItem, points: Sequence[pg.SpotItem], _event: object) -> None:
        if len(points):
            self.model_clicked.emit(points[0].data())

    def _on_hovered(self, _item: pg.ScatterPlotItem, points: Sequence[pg.SpotItem], _event: object) -> None:
        cursor = Qt.CursorShape.PointingHandCursor if len(points) else Qt.CursorShape.ArrowCursor
        if self.viewport().cursor().shape() != cursor:
            self.viewport().setCursor(cursor)

    def scene_position(self, key: str) -> QPoint:
        """Where a model's point is, in the view's (widget) coordinates: for tests and tools."""
        point = self.points[key]
        scene = self.getPlotItem().getViewBox().mapViewToScene(pg.Point(point.x, point.y))
        return self.mapFromScene(scene)

    def label_boxes(self) -> dict[str, QRectF]:
        """Where each shown point label is drawn, in the widget's coordinates: for tests and tools."""
        return {key: self.mapFromScene(label.sceneBoundingRect()).boundingRect().toRectF()
                for key, label in self.labels.items() if label.isVisible()}

    def view_box_rect(self) -> QRectF:
        """The plotting area (inside the axes), in the widget's coordinates."""
        view = self.getPlotItem().getViewBox()
        return self.mapFromScene(view.sceneBoundingRect()).boundingRect().toRectF()

    # Export ----------------------------------------------------------------------------

    def export(self, path: str | Path) -> Path:
        """Save the plot as PNG (at twice the screen's resolution) or SVG, by the file's extension.

        Qt draws both from the scene. pyqtgraph's exporters are not used: its SVGExporter fails on
        the closed paths ("... Z") Qt 6.10+ writes (pyqtgraph#3495), and its ImageExporter, asked
        for a larger image, leaves the legend at screen size.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise OSError(f"no folder {path.parent}")
        source = self.getPlotItem().sceneBoundingRect()
        target = QRectF(0, 0, source.width(), source.height())
        if path.suffix.lower() == ".svg":
            device = QSvgGenerator()
            device.setFileName(str(path))
            device.setResolution(int(self.logicalDpiX()))  # else text and axes come out rescaled
            device.setSize(source.size().toSize())
            device.setViewBox(target)
            device.setTitle("ModelScout: quality against " + (self.axis.label if self.axis else "cost"))
        else:
            device = QImage((source.size() * 2).toSize(), QImage.Format.Format_ARGB32_Premultiplied)
            device.setDevicePixelRatio(2)
        painter = QPainter(device)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            painter.fillRect(target, Qt.GlobalColor.white)
            self.scene().render(painter, target, source)
        finally:
            painter.end()
        if isinstance(device, QImage) and not device.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        if not path.exists() or path.stat().st_size == 0:
            raise OSError(f"could not write {path}")
        return path


def distinguishing_names(names: list[str]) -> dict[str, str]:
    """Each name without the start it shares with another (cut where a word or a part ends), after an
    ellipsis: SmolLM2-135M-Instruct.Q4_1 beside SmolLM2-135M-Instruct.Q2_K is …Q4_1."""
    short = {}
    for name in names:
        shared = max((len(os.path.commonprefix([name, other])) for other in names if other != name), default=0)
        cut = max((i + 1 for i, char in enumerate(name[:shared]) if char in NAME_BREAKS), default=0)
        short[name] = "…" + name[cut:] if 0 < cut < len(name) else name
    return short


def _candidate_boxes(centre: tuple[float, float], w: float, h: float, clear: float) -> list[Box]:
    """Places for a w x h label by a point (px, y up), best first: right, left, above, below, the corners,
    then further up and down a line at a time."""
    x, y = centre
    gap = clear + 1
    boxes = [
        (x + gap, y - h / 2, x + gap + w, y + h / 2),  # right
        (x - gap - w, y - h / 2, x - gap, y + h / 2),  # left
        (x - w / 2, y + clear, x + w / 2, y + clear + h),  # above
        (x - w / 2, y - clear - h, x + w / 2, y - clear),  # below
        (x, y + clear, x + w, y + clear + h),  # above right
        (x, y - clear - h, x + w, y - clear),  # below right
        (x - w, y + clear, x, y + clear + h),  # above left
        (x - w, y - clear - h, x, y - clear),  # below left
    ]
    for i in range(1, 5):
        boxes.append((x, y + clear + i * h, x + w, y + clear + (i + 1) * h))
        boxes.append((x, y - clear - (i + 1) * h, x + w, y - clear - i * h))
    return boxes


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(box: Box, width: float, height: float) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
