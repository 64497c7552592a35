"""Delivery estimates by region (``DELIVERY_ESTIMATES`` in config), in working days from payment.

Working days are Monday to Friday; bank holidays are not counted out, so an estimate near one is
a day or so early. Pure functions of their arguments."""

from datetime import date, timedelta
from typing import Any


def estimate(estimates: dict[str, Any], region: str) -> tuple[int, int] | None:
    """``(from, to)`` working days for ``region``, or None when config gives none."""
    days = estimates.get(region)
    if not days:
        return None
    low, high = days
    return int(low), int(high)


def describe(days: tuple[int, int] | None) -> str:
    """``(2, 5)`` -> ``'2 to 5 working days'``; ``(3, 3)`` -> ``'3 working days'``."""
    if days is None:
        return ""
    low, high = days
    if low == high:
        return f"{high} working day" + ("" if high == 1 else "s")
    return f"{low} to {high} working days"


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (Monday to Friday)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def expected_between(start: date, days: tuple[int, int] | None) -> tuple[date, date] | None:
    """The first and last date delivery is expected, counting from ``start`` (the day paid)."""
    if days is None:
        return None
    return add_working_days(start, days[0]), add_working_days(start, days[1])
