"""Training curves and the confusion matrix as plain numbers for the admin's templates to draw (SVG and
a table): no plotting library in the web process."""

import math
from dataclasses import dataclass

WIDTH, HEIGHT = 440, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28  # room for the axis labels
# Where a chart's plot area lies, for its template's axes.
_FRAME = {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM}


@dataclass
class Line:
    name: str
    points: str  # "x,y x,y ..." for <polyline points>
    css_class: str
    dot: tuple[float, float] | None = None  # a series of one value: drawn as a dot, a line needs two


def round_ticks(low: float, high: float, most: int = 6) -> tuple[list[float], int]:
    """At most `most` ticks at a round step (1, 2 or 5 times a power of ten) that cover low..high, and the
    decimals their labels need: 0.0/0.2/0.4, not 0.00/0.17/0.35."""
    power = 10 ** math.floor(math.log10((high - low) / (most - 1)))
    for step in (m * power for m in (1, 2, 5, 10, 20, 50)):
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        if last - first < most:
            break
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return [round(k * step, decimals) for k in range(first, last + 1)], decimals


def line_chart(series: dict[str, list[float]], *, y_min: float | None = None, y_max: float | None = None) -> dict:
    """A chart of the epochs (x, from 1) against each series' values; missing series are left out."""
    series = {name: values for name, values in series.items() if values}
    if not series:
        return {}
    epochs = max(len(values) for values in series.values())
    values = [v for vs in series.values() for v in vs]
    low = min(values) if y_min is None else y_min
    high = max(values) if y_max is None else y_max
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    ticks, decimals = round_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(epoch: int) -> float:  # 1-based
        return LEFT + (plot_w * (epoch - 1) / (epochs - 1) if epochs > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    lines = [
        Line(
            name=name,
            points=" ".join(f"{x(i + 1):.1f},{y(v):.1f}" for i, v in enumerate(vs)),
            css_class=name.replace("_", "-"),
            dot=(round(x(1), 1), round(y(vs[0]), 1)) if len(vs) == 1 else None,
        )
        for name, vs in series.items()
    ]
    y_ticks = [{"y": round(y(value), 1), "label": f"{value:.{decimals}f}"} for value in ticks]
    step = max(1, round(epochs / 6))
    x_ticks = [{"x": round(x(e), 1), "label": e} for e in range(1, epochs + 1, step)]
    return {
        **_FRAME,
        "lines": lines,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
    }


def confusion_rows(matrix: list[list[int]], class_names: list[str]) -> list[dict]:
    """Rows of the confusion matrix (true class) with each cell's share of its row, for shading."""
    rows = []
    for name, counts in zip(class_names, matrix, strict=True):
        total = sum(counts) or 1
        cells = [
            {"count": count, "share": count / total, "correct": i == j}
            for j, count in enumerate(counts)
            for i in [class_names.index(name)]
        ]
        rows.append({"name": name, "total": sum(counts), "cells": cells})
    return rows


def bar_chart(bars: list[tuple[str, float]], *, label_every: int = 1) -> dict:
    """Bars of `(label, value)` from a zero baseline, in order, with a round value axis; every `label_every`th
    bar's label is written under it. Empty when there is nothing to draw."""
    if not bars:
        return {}
    high = max(max(value for _, value in bars), 1)
    ticks, decimals = round_ticks(0, high, most=5)
    top_value = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(bars)
    drawn = []
    for i, (label, value) in enumerate(bars):
        height = plot_h * value / top_value
        drawn.append(
            {
                "x": round(LEFT + i * slot + slot * 0.1, 1),
                "y": round(TOP + plot_h - height, 1),
                "width": round(slot * 0.8, 1),
                "height": round(height, 1),
                "label": label,
                "value": value,
                "tick": i % label_every == 0,
                "tick_x": round(LEFT + i * slot + slot / 2, 1),
            }
        )
    y_ticks = [
        {"y": round(TOP + plot_h * (1 - value / top_value), 1), "label": f"{value:.{decimals}f}"} for value in ticks
    ]
    return {
        **_FRAME,
        "bars": drawn,
        "y_ticks": y_ticks,
    }
