"""The admin's training curves (trainer/charts.py): round axis steps, and a first epoch that shows."""

import pytest

from trainer.charts import line_chart, round_ticks


@pytest.mark.parametrize(
    ("low", "high", "labels"),
    [
        (0, 0.7, ["0.0", "0.2", "0.4", "0.6", "0.8"]),
        (0.5, 1, ["0.5", "0.6", "0.7", "0.8", "0.9", "1.0"]),
        (0.04, 2.3, ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]),
        (0, 130, ["0", "50", "100", "150"]),
    ],
)
def test_the_axis_ticks_fall_on_round_steps_that_cover_the_values(low, high, labels):
    ticks, decimals = round_ticks(low, high)
    assert [f"{tick:.{decimals}f}" for tick in ticks] == labels


def test_the_chart_s_axis_is_labelled_at_round_values():
    chart = line_chart({"loss": [0.69, 0.5, 0.41]}, y_min=0)
    assert [tick["label"] for tick in chart["y_ticks"]] == ["0.0", "0.2", "0.4", "0.6", "0.8"]


def test_a_single_epoch_is_drawn_as_a_dot_on_the_axis_range():
    chart = line_chart({"loss": [0.7], "test_loss": [0.6]}, y_min=0)
    dots = [line.dot for line in chart["lines"]]
    assert all(dots) and dots[0][1] < dots[1][1] < chart["bottom"]  # higher loss, higher on the chart
    assert all(line.dot is None for line in line_chart({"loss": [0.7, 0.5]}, y_min=0)["lines"])
