"""Training curves and the confusion matrix as plain numbers for the admin's templates to draw (SVG and
a table): no plotting library in the web process."""

from dataclasses import dataclass

WIDTH, HEIGHT = 440, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28  # room for the axis labels


@dataclass
class Line:
    name: str
    points: str  # "x,y x,y ..." for <polyline points>
    css_class: str


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
        )
        for name, vs in series.items()
    ]
    y_ticks = [
        {"y": round(y(low + (high - low) * k / 4), 1), "label": f"{low + (high - low) * k / 4:.2f}"} for k in range(5)
    ]
    step = max(1, round(epochs / 6))
    x_ticks = [{"x": round(x(e), 1), "label": e} for e in range(1, epochs + 1, step)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
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
