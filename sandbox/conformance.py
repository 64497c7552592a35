"""Would Stripe accept these parameters? Checked against the pinned stripe-python's own types.

stripe-python is generated from Stripe's API specification: every operation has a TypedDict of
its parameters (``stripe.params.checkout.SessionCreateParams``, ``RefundCreateParams``, ...). This
module walks a request's parameters, as they arrived on the wire (form-encoded, so every scalar
is a string), against the TypedDict of its operation and reports what the real API would refuse:
unknown keys, missing required keys, values that are not integers, booleans or numbers where
those are expected, and values outside an enum.

One deliberate difference from the SDK's types: the SDK widens every enum with ``str``
(``Union[Literal["auto", "required"], str]``) so that an old SDK does not reject a value Stripe
adds later. The API itself refuses a value outside the enum, so the checker drops that ``str``,
except where the only literal is ``""``, Stripe's "unset this" marker.

``OPERATIONS`` maps each ``/v1`` route the sandbox serves to its TypedDict; a route missing from
it is itself reported, so nothing the sandbox answers escapes the check.
"""

from __future__ import annotations

import functools
import re
import sys
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

import stripe.params as params
import stripe.params.checkout as checkout_params
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject
from typing_extensions import is_typeddict

# (HTTP method, path with {id} for an object id) -> the SDK's parameter type.
OPERATIONS: dict[tuple[str, str], Any] = {
    ("POST", "/v1/checkout/sessions"): checkout_params.SessionCreateParams,
    ("GET", "/v1/checkout/sessions"): checkout_params.SessionListParams,
    ("GET", "/v1/checkout/sessions/{id}"): checkout_params.SessionRetrieveParams,
    ("POST", "/v1/checkout/sessions/{id}/expire"): checkout_params.SessionExpireParams,
    ("GET", "/v1/checkout/sessions/{id}/line_items"): checkout_params.SessionLineItemListParams,
    ("GET", "/v1/payment_intents/{id}"): params.PaymentIntentRetrieveParams,
    ("GET", "/v1/charges/{id}"): params.ChargeRetrieveParams,
    ("GET", "/v1/shipping_rates/{id}"): params.ShippingRateRetrieveParams,
    ("GET", "/v1/events/{id}"): params.EventRetrieveParams,
    ("POST", "/v1/refunds"): params.RefundCreateParams,
    ("GET", "/v1/refunds"): params.RefundListParams,
    ("GET", "/v1/refunds/{id}"): params.RefundRetrieveParams,
    ("POST", "/v1/webhook_endpoints"): params.WebhookEndpointCreateParams,
    ("GET", "/v1/webhook_endpoints"): params.WebhookEndpointListParams,
    ("GET", "/v1/webhook_endpoints/{id}"): params.WebhookEndpointRetrieveParams,
    ("POST", "/v1/webhook_endpoints/{id}"): params.WebhookEndpointUpdateParams,
    ("DELETE", "/v1/webhook_endpoints/{id}"): params.WebhookEndpointDeleteParams,
    ("POST", "/v1/customers"): params.CustomerCreateParams,
    ("GET", "/v1/customers"): params.CustomerListParams,
    ("GET", "/v1/customers/{id}"): params.CustomerRetrieveParams,
    ("POST", "/v1/customers/{id}"): params.CustomerUpdateParams,
    ("POST", "/v1/invoiceitems"): params.InvoiceItemCreateParams,
    ("GET", "/v1/invoiceitems/{id}"): params.InvoiceItemRetrieveParams,
    ("POST", "/v1/invoices"): params.InvoiceCreateParams,
    ("GET", "/v1/invoices"): params.InvoiceListParams,
    ("GET", "/v1/invoices/{id}"): params.InvoiceRetrieveParams,
    ("DELETE", "/v1/invoices/{id}"): params.InvoiceDeleteParams,
    ("GET", "/v1/invoices/{id}/lines"): params.InvoiceLineItemListParams,
    ("POST", "/v1/invoices/{id}/finalize"): params.InvoiceFinalizeInvoiceParams,
    ("POST", "/v1/invoices/{id}/send"): params.InvoiceSendInvoiceParams,
    ("POST", "/v1/invoices/{id}/pay"): params.InvoicePayParams,
    ("POST", "/v1/invoices/{id}/void"): params.InvoiceVoidInvoiceParams,
    ("POST", "/v1/invoices/{id}/mark_uncollectible"): params.InvoiceMarkUncollectibleParams,
    ("GET", "/v1/invoice_payments/{id}"): params.InvoicePaymentRetrieveParams,
    ("POST", "/v1/coupons"): params.CouponCreateParams,
    ("GET", "/v1/coupons/{id}"): params.CouponRetrieveParams,
    ("POST", "/v1/promotion_codes"): params.PromotionCodeCreateParams,
    ("GET", "/v1/promotion_codes"): params.PromotionCodeListParams,
    ("GET", "/v1/promotion_codes/{id}"): params.PromotionCodeRetrieveParams,
}
_ROUTES = [
    (method, re.compile("^" + re.escape(path).replace(re.escape("{id}"), "[^/]+") + "$"), typed)
    for (method, path), typed in OPERATIONS.items()
]
# Client-side options the SDK's parameter types inherit; they travel as headers, never as params.
_OPTIONS = frozenset(RequestOptions.__annotations__)
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_UNIONS = (Union, types.UnionType)  # Union[a, b] and a | b
_SHOWN = 20  # enum values named in a message (Stripe's country and event enums run to hundreds)


@dataclass(frozen=True)
class Problem:
    """One thing Stripe would refuse: its message, the parameter, and Stripe's error code."""

    message: str
    param: str
    code: str | None = None


def operation(method: str, path: str) -> Any | None:
    """The parameter type of ``method path``, or None when the checker does not know it."""
    for route_method, pattern, typed in _ROUTES:
        if route_method == method.upper() and pattern.match(path):
            return typed
    return None


def check_request(method: str, path: str, wire: Any) -> list[Problem]:
    """Everything Stripe would refuse in a request whose parsed parameters are ``wire``."""
    typed = operation(method, path)
    if typed is None:
        return [Problem(f"No stripe-python parameter type for {method.upper()} {path}.", "")]
    return _too_deep(wire) + check(wire, typed)


MAX_EXPAND_DEPTH = 4  # Stripe: "data.invoice.subscription.default_source" is as deep as it goes


def _too_deep(wire: Any) -> list[Problem]:
    """Stripe's limit on ``expand[]``: four levels, a list's ``data`` counted as one."""
    paths = wire.get("expand") if isinstance(wire, dict) else None
    return [
        Problem(f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. Property: {path}",
                "expand")
        for path in (paths if isinstance(paths, list) else [])
        if isinstance(path, str) and path.count(".") >= MAX_EXPAND_DEPTH
    ]


def check(wire: Any, typed: Any, name: str = "") -> list[Problem]:
    """Problems of ``wire`` (nested dicts and lists of strings) against ``typed``."""
    problems: list[Problem] = []
    _check(wire, typed, name, problems)
    return problems


@functools.cache
def _fields(typed: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """The field types of a TypedDict (client options left out) and its required keys.

    ``typing.get_type_hints`` on the TypedDict itself fails: the inherited ``RequestOptions``
    annotations name types that exist only for type checkers. So the wanted annotations are
    resolved on a stand-in class from the TypedDict's own module."""
    own = {key: value for key, value in typed.__annotations__.items() if key not in _OPTIONS}
    stand_in = type("Fields", (), {"__annotations__": own, "__module__": typed.__module__})
    hints = typing.get_type_hints(stand_in, globalns=vars(sys.modules[typed.__module__]),
                                  include_extras=True)
    return hints, frozenset(typed.__required_keys__) - _OPTIONS


def _alternatives(annotation: Any) -> list[Any]:
    """The types a value may have, with the SDK's forward-compatibility ``str`` dropped from
    enums (see the module docstring)."""
    if get_origin(annotation) not in _UNIONS:
        return [annotation]
    options = list(get_args(annotation))
    literals = [value for option in options if get_origin(option) is Literal for value in get_args(option)]
    if any(value != "" for value in literals) and str in options:
        options.remove(str)
    return options


def _check(value: Any, annotation: Any, name: str, problems: list[Problem]) -> None:
    origin = get_origin(annotation)
    if origin in (NotRequired, Required):
        _check(value, get_args(annotation)[0], name, problems)
        return
    if origin in _UNIONS:
        _check_union(value, _alternatives(annotation), name, problems)
        return
    if origin is Literal:
        allowed = [_wire_literal(option) for option in get_args(annotation)]
        if value not in allowed:
            shown = ", ".join(a or '""' for a in allowed[:_SHOWN])
            shown += f", … ({len(allowed)} in all)" if len(allowed) > _SHOWN else ""
            problems.append(Problem(f"Invalid {name}: must be one of {shown}", name))
        return
    if is_typeddict(annotation):
        _check_object(value, annotation, name, problems)
        return
    if origin is list:
        if not isinstance(value, list):
            problems.append(Problem(f"Invalid array: {name}", name))
            return
        [item_type] = get_args(annotation) or [Any]
        for index, item in enumerate(value):
            _check(item, item_type, f"{name}[{index}]", problems)
        return
    if origin in (dict, UntypedStripeObject) or annotation is UntypedStripeObject:
        if not isinstance(value, dict):
            problems.append(Problem(f"Invalid object: {name}", name))
            return
        args = get_args(annotation)
        item_type = args[1] if len(args) == 2 else (args[0] if args else Any)
        for key, item in value.items():
            _check(item, item_type, f"{name}[{key}]", problems)
        return
    _check_scalar(value, annotation, name, problems)


def _check_union(value: Any, options: list[Any], name: str, problems: list[Problem]) -> None:
    attempts = []
    for option in options:
        found: list[Problem] = []
        _check(value, option, name, found)
        if not found:
            return
        attempts.append(found)
    # Report what the enum allows when the value was a plain string; else the first attempt.
    literal = [found for option, found in zip(options, attempts, strict=True)
               if get_origin(option) is Literal and any(v != "" for v in get_args(option))]
    problems.extend(literal[0] if literal and isinstance(value, str) else attempts[0])


def _check_object(value: Any, typed: Any, name: str, problems: list[Problem]) -> None:
    if not isinstance(value, dict):
        problems.append(Problem(f"Invalid object: {name}" if name else "Invalid parameters", name))
        return
    fields, required = _fields(typed)
    for key in sorted(required - value.keys()):
        child = f"{name}[{key}]" if name else key
        problems.append(Problem(f"Missing required param: {child}.", child, "parameter_missing"))
    for key, item in value.items():
        child = f"{name}[{key}]" if name else key
        if key not in fields:
            problems.append(Problem(f"Received unknown parameter: {child}", child, "parameter_unknown"))
        else:
            _check(item, fields[key], child, problems)


def _check_scalar(value: Any, annotation: Any, name: str, problems: list[Problem]) -> None:
    if annotation is Any:
        return
    if not isinstance(value, str):
        problems.append(Problem(f"Invalid {name}: expected a single value, not an object or array", name))
        return
    if annotation is bool:
        if value not in ("true", "false"):
            problems.append(Problem(f"Invalid boolean: {value}", name))
    elif annotation is int:
        if not _INTEGER.match(value):
            problems.append(Problem(f"Invalid integer: {value}", name, "parameter_invalid_integer"))
    elif annotation in (float, Decimal):
        if not _NUMBER.match(value):
            problems.append(Problem(f"Invalid decimal: {value}", name))
    elif annotation is not str:
        problems.append(Problem(f"The checker does not know the type {annotation!r} of {name}", name))


def _wire_literal(option: Any) -> str:
    """A literal as it travels form-encoded (booleans as true/false)."""
    if isinstance(option, bool):
        return "true" if option else "false"
    return str(option)
