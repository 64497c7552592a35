"""Stripe API versions: which exist, and how an object looks in each.

The sandbox stores every object in the shape of the latest version, the one the pinned
stripe-python speaks. An answer or an event for an older version is rendered by undoing, newest
first, each breaking change made after that version (Stripe's own "version change" approach).
Only changes to objects the sandbox serves are listed; a new resource (an invoice, say) adds its
changes to ``CHANGES`` and nothing else here.

The versions Stripe accepts come from the pinned SDK itself: the ``api_version`` a webhook
endpoint may be created with (``stripe.params.WebhookEndpointCreateParams``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, get_args

from stripe.params import WebhookEndpointCreateParams

Obj = dict[str, Any]


def _literal_values(annotation: Any) -> tuple[str, ...]:
    """The strings of the ``Literal`` inside ``NotRequired[Union[Literal[...], str]]``."""
    found: list[str] = []
    for arg in get_args(annotation):
        if isinstance(arg, str):
            found.append(arg)
        else:
            found.extend(_literal_values(arg))
    return tuple(found)


#: Every API version the pinned SDK knows, oldest first.
KNOWN: tuple[str, ...] = tuple(
    sorted(_literal_values(WebhookEndpointCreateParams.__annotations__["api_version"]), key=lambda v: v[:10])
)
#: The newest of them: the version stripe-python 16.1.0 sends and the sandbox stores objects in.
LATEST = KNOWN[-1]


def is_known(version: str) -> bool:
    return version in KNOWN


def _before(version: str, change: str) -> bool:
    """Whether ``version`` predates the version that made ``change`` (dates compare as text)."""
    return version[:10] < change[:10]


# -- the changes ----------------------------------------------------------------------------

def _shipping_details_back_to_top_level(session: Obj) -> None:
    """2025-03-31.basil removed the session's top-level ``shipping_details`` (it lives on in
    ``collected_information.shipping_details``)."""
    collected = session.get("collected_information") or {}
    shipping = collected.get("shipping_details")
    session["shipping_details"] = copy.deepcopy(shipping) if shipping else None


def _no_collected_information(session: Obj) -> None:
    """2025-02-24.acacia added ``collected_information``; before it there was none."""
    session.pop("collected_information", None)


#: (the version that made the change, the object it changed, how to undo it), newest first.
CHANGES: list[tuple[str, str, Callable[[Obj], None]]] = [
    ("2025-03-31.basil", "checkout.session", _shipping_details_back_to_top_level),
    ("2025-02-24.acacia", "checkout.session", _no_collected_information),
]


def render(value: Any, version: str) -> Any:
    """A deep copy of ``value`` (an object, a list object, or anything holding objects) as
    Stripe renders it for ``version``."""
    rendered = copy.deepcopy(value)
    _undo(rendered, version)
    return rendered


def _undo(value: Any, version: str) -> None:
    if isinstance(value, list):
        for item in value:
            _undo(item, version)
        return
    if not isinstance(value, dict):
        return
    for child in value.values():
        _undo(child, version)  # expanded objects inside are rendered in the same version
    kind = value.get("object")
    for made_in, changed, undo in CHANGES:
        if changed == kind and _before(version, made_in):
            undo(value)
