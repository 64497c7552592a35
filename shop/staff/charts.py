"""Bar charts drawn on the server as SVG geometry (templates/staff/_charts.html draws them), so
the dashboard needs no JavaScript. Each chart's figures are also shown as a table and a CSV."""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what the bar is (a day, a title)
    value: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    bars: list[Bar] = field(default_factory=list)
    value_ticks: list[Tick] = field(default_factory=list)  # gridlines with their values
    category_ticks: list[Tick] = field(default_factory=list)  # labels along the category axis
    summary: str = ""  # one sentence for the image's accessible name


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above ``value`` (at least 1): the top of the axis."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for multiple in (1, 2, 5):
            if multiple * step >= value:
                return multiple * step
        step *= 10


def _value_ticks(top: int) -> list[int]:
    return [top * n // 4 for n in range(5)] if top >= 4 else list(range(top + 1))


def daily_chart(days: list[tuple[date, int]], what: str = "copies") -> Chart:
    """A column per day, oldest on the left; the first of each month is labelled."""
    chart = Chart(width=720, height=240, plot_left=40, plot_top=10, plot_width=640, plot_height=190)
    top = nice_ceiling(max((value for _, value in days), default=0))
    slot = chart.plot_width / max(len(days), 1)
    for index, (day, value) in enumerate(days):
        height = chart.plot_height * value / top
        chart.bars.append(Bar(
            x=round(chart.plot_left + index * slot + slot * 0.1, 2),
            y=round(chart.plot_top + chart.plot_height - height, 2),
            width=round(slot * 0.8, 2), height=round(height, 2),
            label=day.strftime("%a %-d %b %Y"), value=value,
        ))
        if day.day == 1 or index == 0:
            chart.category_ticks.append(Tick(round(chart.plot_left + index * slot, 2), day.strftime("%-d %b")))
    for value in _value_ticks(top):
        chart.value_ticks.append(Tick(round(chart.plot_top + chart.plot_height * (1 - value / top), 2), f"{value:,}"))
    total = sum(value for _, value in days)
    best = max(days, key=lambda item: item[1], default=None)
    chart.summary = (
        f"{total:,} {what} in the last {len(days)} days"
        + (f"; most on {best[0].strftime('%-d %B')} ({best[1]:,})" if best and best[1] else "")
        + "."
    )
    return chart


def title_chart(rows: list[tuple[str, int]], what: str = "copies") -> Chart:
    """A horizontal bar per title, most first, the title written above its bar."""
    row_height = 34
    chart = Chart(width=720, height=max(len(rows), 1) * row_height + 30, plot_left=10, plot_top=10,
                  plot_width=640, plot_height=max(len(rows), 1) * row_height)
    top = nice_ceiling(max((value for _, value in rows), default=0))
    for index, (title, value) in enumerate(rows):
        width = chart.plot_width * value / top
        chart.bars.append(Bar(
            x=chart.plot_left, y=chart.plot_top + index * row_height + 16,
            width=round(width, 2), height=12, label=title, value=value,
        ))
    for value in _value_ticks(top):
        chart.value_ticks.append(Tick(round(chart.plot_left + chart.plot_width * value / top, 2), f"{value:,}"))
    total = sum(value for _, value in rows)
    chart.summary = (
        f"{total:,} {what} across {len(rows)} {'title' if len(rows) == 1 else 'titles'}"
        + (f"; most of “{rows[0][0]}” ({rows[0][1]:,})" if rows else "") + "."
    )
    return chart
