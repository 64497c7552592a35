"""Order timeline entries in words, for staff."""

from typing import Any

from shop.money import format_pence
from shop.orders.models import OrderEvent
from shop.orders.status import label


def _value(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key.endswith("_pence") and isinstance(value, int) and not isinstance(value, bool):
        return format_pence(value)
    if key == "status":
        return label(value)
    return str(value)


def _label(key: str) -> str:
    return key.removesuffix("_pence").replace("_", " ")


def describe(event: OrderEvent) -> list[str]:
    """Lines such as ``'status: Paid → Dispatched'`` or ``'amount charged: £20.95'``."""
    detail = dict(event.detail or {})
    detail.pop("text", None)  # a note's text is shown as a quotation
    before, after = detail.pop("before", None), detail.pop("after", None)
    lines = []
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before or {}, after or {}
        for key in dict.fromkeys([*before, *after]):
            old, new = before.get(key), after.get(key)
            if old != new:
                lines.append(f"{_label(key)}: {_value(key, old)} → {_value(key, new)}")
    elif before is not None or after is not None:
        lines.append(f"{_value('status', before)} → {_value('status', after)}")
    lines += [f"{_label(key)}: {_value(key, value)}" for key, value in detail.items()]
    return lines
