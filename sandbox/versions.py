"""Stripe API versions: which exist, and how an object looks in each.

The sandbox stores every object in the shape of the latest version, the one the pinned
stripe-python speaks. An answer or an event for an older version is rendered by undoing, newest
first, each breaking change made after that version (Stripe's own "version change" approach).
Only changes to objects the sandbox serves are listed; a new resource adds its changes to
``CHANGES`` and nothing else here. Keys starting with ``_`` are the sandbox's own bookkeeping
inside an object (an invoice's payments, say): the changes may read them, and no version
renders them.

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


def _invoice_payment_fields_back(invoice: Obj) -> None:
    """2025-03-31.basil (multiple partial payments) removed the invoice's ``paid``,
    ``paid_out_of_band``, ``payment_intent`` and ``charge`` (its payments are listed apart, in
    the includable ``payments``). The sandbox keeps them in its own ``_payments``, so the
    payment intent is known even where ``payments`` is not included (event payloads)."""
    invoice["paid"] = invoice.get("status") == "paid"
    invoice["paid_out_of_band"] = bool(invoice.get("_paid_off_stripe"))
    intents = invoice.get("_payment_intents") or []
    invoice["payment_intent"] = intents[-1] if intents else None
    charges = invoice.get("_charges") or []
    invoice["charge"] = charges[-1] if charges else None
    for includable in ("payments", "amount_paid_off_stripe"):
        invoice.pop(includable, None)


def _payment_invoice_back(payment: Obj) -> None:
    """2025-03-31.basil removed ``invoice`` from payment intents and charges."""
    payment["invoice"] = payment.get("_invoice")


#: (the version that made the change, the object it changed, how to undo it), newest first.
CHANGES: list[tuple[str, str, Callable[[Obj], None]]] = [
    ("2025-03-31.basil", "checkout.session", _shipping_details_back_to_top_level),
    ("2025-03-31.basil", "invoice", _invoice_payment_fields_back),
    ("2025-03-31.basil", "payment_intent", _payment_invoice_back),
    ("2025-03-31.basil", "charge", _payment_invoice_back),
    ("2025-02-24.acacia", "checkout.session", _no_collected_information),
]


def render(value: Any, version: str) -> Any:
    """A deep copy of ``value`` (an object, a list object, or anything holding objects) as
    Stripe renders it for ``version``."""
    rendered = copy.deepcopy(value)
    _undo(rendered, version)
    _drop_private(rendered)
    return rendered


def _drop_private(value: Any) -> None:
    """Remove the sandbox's own ``_`` keys, at every depth."""
    if isinstance(value, list):
        for item in value:
            _drop_private(item)
    elif isinstance(value, dict):
        for key in [key for key in value if isinstance(key, str) and key.startswith("_")]:
            del value[key]
        for child in value.values():
            _drop_private(child)


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
