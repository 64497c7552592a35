"""Request parameters: Stripe's form encoding, what the sandbox implements, and the limits Stripe
enforces beyond the types (``conformance`` checks the types themselves against the pinned SDK).

Every refusal here is a ``ParamError``: the request failed validation before anything ran, so,
as at Stripe, no idempotent result is saved for it and a corrected retry with the same key runs.
"""

from __future__ import annotations

import re
from typing import Any

from .state import Obj, SandboxError, new_id, now

# Schemas of the parameters the sandbox implements (a subset of Stripe's): a dict of name ->
# sub-schema; None is a scalar, [schema] a list of schema, ANY a free-form map (metadata).
ANY = "any"
_EXPAND = [None]
SESSION_CREATE: Obj = {
    "mode": None, "success_url": None, "cancel_url": None, "client_reference_id": None,
    "metadata": ANY, "expires_at": None, "customer_email": None, "locale": None,
    "submit_type": None, "billing_address_collection": None, "expand": _EXPAND,
    "allowed_payment_method_types": [None],
    "line_items": [{"quantity": None, "price_data": {
        "currency": None, "unit_amount": None,
        "product_data": {"name": None, "description": None, "metadata": ANY, "images": [None]}}}],
    "shipping_options": [{"shipping_rate_data": {
        "type": None, "display_name": None, "metadata": ANY,
        "fixed_amount": {"amount": None, "currency": None},
        "delivery_estimate": {"minimum": {"unit": None, "value": None},
                              "maximum": {"unit": None, "value": None}}}}],
    "shipping_address_collection": {"allowed_countries": [None]},
    "payment_intent_data": {"description": None, "metadata": ANY, "receipt_email": None,
                            "statement_descriptor": None, "statement_descriptor_suffix": None},
    "phone_number_collection": {"enabled": None},
    "allow_promotion_codes": None,
}
SESSION_LIST: Obj = {"limit": None, "starting_after": None, "ending_before": None, "created": ANY,
                     "status": None, "payment_intent": None, "expand": _EXPAND}
PAGE_ONLY: Obj = {"limit": None, "starting_after": None, "ending_before": None, "expand": _EXPAND}
REFUND_CREATE: Obj = {"payment_intent": None, "charge": None, "amount": None, "reason": None,
                      "metadata": ANY, "expand": _EXPAND}
EXPAND_ONLY: Obj = {"expand": _EXPAND}
REFUND_LIST: Obj = {**PAGE_ONLY, "payment_intent": None, "charge": None, "created": ANY}
ENDPOINT_CREATE: Obj = {"url": None, "enabled_events": [None], "api_version": None, "description": None,
                        "metadata": ANY, "connect": None, "expand": _EXPAND}
ENDPOINT_UPDATE: Obj = {"url": None, "enabled_events": [None], "description": None, "disabled": None,
                        "metadata": ANY, "expand": _EXPAND}
NOTHING: Obj = {}
_ADDRESS: Obj = {"line1": None, "line2": None, "city": None, "state": None, "postal_code": None, "country": None}
CUSTOMER_CREATE: Obj = {"email": None, "name": None, "description": None, "phone": None, "address": _ADDRESS,
                        "shipping": {"name": None, "phone": None, "address": _ADDRESS}, "metadata": ANY,
                        "preferred_locales": [None], "expand": _EXPAND}
CUSTOMER_UPDATE: Obj = CUSTOMER_CREATE
CUSTOMER_LIST: Obj = {**PAGE_ONLY, "email": None, "created": ANY}
INVOICE_ITEM_CREATE: Obj = {"customer": None, "invoice": None, "currency": None, "description": None,
                            "quantity": None, "unit_amount_decimal": None, "amount": None, "metadata": ANY,
                            "expand": _EXPAND}
INVOICE_CREATE: Obj = {"customer": None, "collection_method": None, "currency": None, "days_until_due": None,
                       "due_date": None, "auto_advance": None, "custom_fields": [{"name": None, "value": None}],
                       "metadata": ANY, "description": None, "footer": None, "number": None,
                       "shipping_details": {"name": None, "phone": None, "address": _ADDRESS},
                       "pending_invoice_items_behavior": None, "discounts": ANY, "expand": _EXPAND,
                       "payment_settings": {"payment_method_types": [None], "payment_method_options": {
                           "customer_balance": {"funding_type": None, "bank_transfer": {"type": None}}}}}
INVOICE_LIST: Obj = {**PAGE_ONLY, "customer": None, "status": None, "collection_method": None,
                     "created": ANY, "due_date": ANY}
INVOICE_FINALIZE: Obj = {"auto_advance": None, "expand": _EXPAND}
INVOICE_PAY: Obj = {"paid_out_of_band": None, "expand": _EXPAND}
COUPON_CREATE: Obj = {"id": None, "percent_off": None, "amount_off": None, "currency": None, "duration": None,
                      "name": None, "max_redemptions": None, "redeem_by": None, "metadata": ANY, "expand": _EXPAND}
PROMOTION_CODE_CREATE: Obj = {"promotion": {"type": None, "coupon": None}, "code": None, "active": None,
                              "expires_at": None, "max_redemptions": None, "metadata": ANY,
                              "restrictions": {"minimum_amount": None, "minimum_amount_currency": None,
                                               "first_time_transaction": None},
                              "expand": _EXPAND}
PROMOTION_CODE_LIST: Obj = {**PAGE_ONLY, "code": None, "active": None, "coupon": None, "created": ANY}

# Limits Stripe enforces that the SDK's types do not express.
MAX_LINE_ITEMS = 100  # in payment mode
MAX_SHIPPING_OPTIONS = 5
MAX_CLIENT_REFERENCE_ID = 200
MAX_SHIPPING_RATE_NAME = 100
MAX_STRING = 5000  # Stripe's ceiling for free text such as a product's name
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 50, 40, 500
# Invoices: at most 4 custom fields, names up to 40 characters and values up to 140 (the SDK's
# InvoiceCreateParamsCustomField says so); 250 lines; customer names up to 256 characters.
MAX_CUSTOM_FIELDS, MAX_CUSTOM_FIELD_NAME, MAX_CUSTOM_FIELD_VALUE = 4, 40, 140
MAX_INVOICE_LINES = 250
MAX_CUSTOMER_NAME = 256
MAX_INVOICE_FOOTER = 5000
MAX_INVOICE_DESCRIPTION = 1500
MAX_PROMOTION_CODE = 500

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class ParamError(SandboxError):
    """A request refused while its parameters were checked, before anything ran."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(400, message, param=param, code=code)


def parse_params(pairs: Any) -> Obj:
    """Nest Stripe's form encoding (``a[b][0][c]=v``) into dicts and lists of strings.
    Dicts whose keys are all digits become lists, except ``metadata`` maps."""
    root: Obj = {}
    for key, value in pairs:
        match = _KEY_RE.match(key)
        if not match:
            raise ParamError(f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for i, part in enumerate(parts):
            part = part or str(len(node))  # "a[]=" appends
            if i == len(parts) - 1:
                node[part] = value
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ParamError(f"Invalid parameter nesting: {key}", param=key)
    return _listify(root, "")


def _listify(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, k) for k, v in node.items()}
    if out and name != "metadata" and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def check_known(params: Any, schema: Any, prefix: str = "") -> None:
    """Refuse parameters the sandbox does not implement, as Stripe refuses unknown ones (400
    ``parameter_unknown``); ``conformance`` has already refused what Stripe itself does not know."""
    if schema is ANY:
        return
    if schema is None:
        if isinstance(params, (dict, list)):
            raise ParamError(f"Invalid value for {prefix}: expected a string.", param=prefix)
        return
    if isinstance(schema, list):
        if not isinstance(params, list):
            raise ParamError("Invalid array", param=prefix)
        for i, item in enumerate(params):
            check_known(item, schema[0], f"{prefix}[{i}]")
        return
    if not isinstance(params, dict):
        raise ParamError("Invalid object", param=prefix)
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in schema:
            raise ParamError(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        check_known(value, schema[key], name)


def check_metadata(params: Any, prefix: str = "") -> None:
    """Stripe's metadata limits, wherever a ``metadata`` map appears: at most 50 keys, keys up to
    40 characters without square brackets, values up to 500 characters."""
    if isinstance(params, list):
        for i, item in enumerate(params):
            check_metadata(item, f"{prefix}[{i}]")
        return
    if not isinstance(params, dict):
        return
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key == "metadata" and isinstance(value, dict):
            if len(value) > MAX_METADATA_KEYS:
                raise ParamError(f"Invalid {name}: metadata can have at most {MAX_METADATA_KEYS} keys.",
                                 param=name)
            for meta_key, meta_value in value.items():
                if len(meta_key) > MAX_METADATA_KEY:
                    raise ParamError(f"Metadata keys can be at most {MAX_METADATA_KEY} characters long: "
                                     f"{meta_key[:60]}", param=f"{name}[{meta_key}]")
                if isinstance(meta_value, str) and len(meta_value) > MAX_METADATA_VALUE:
                    raise ParamError(f"Metadata values can be at most {MAX_METADATA_VALUE} characters long.",
                                     param=f"{name}[{meta_key}]")
        else:
            check_metadata(value, name)


def _missing(name: str) -> ParamError:
    return ParamError(f"Missing required param: {name}.", code="parameter_missing", param=name)


def required(params: Obj, key: str, name: str) -> Any:
    value = params.get(key)
    if value in (None, "", [], {}):
        raise _missing(name)
    return value


def integer(value: Any, name: str, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ParamError(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name) from None
    if minimum is not None and number < minimum:
        raise ParamError(f"This value must be greater than or equal to {minimum}.",
                         code="parameter_invalid_integer", param=name)
    return number


def boolean(value: Any, name: str) -> bool:
    if value not in ("true", "false"):
        raise ParamError(f"Invalid boolean: {value}", param=name)
    return value == "true"


def currency(value: Any, name: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ParamError(f"Invalid currency: {value}", code="parameter_invalid_string", param=name)
    return value.lower()


def one_of(params: Obj, key: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(key)
    if value is not None and value not in allowed:
        raise ParamError(f"Invalid {key}: must be one of {', '.join(allowed)}", param=key)
    return value


def url(params: Obj, key: str, is_required: bool = False) -> str | None:
    value = required(params, key, key) if is_required else params.get(key)
    if value is not None and not re.match(r"^https?://\S+$", value):
        raise ParamError("Not a valid URL", code="url_invalid", param=key)
    return value


MAX_AMOUNT = 99_999_999


def at_most(value: Any, limit: int, name: str) -> Any:
    """Stripe's ``maxLength``: a longer string is refused."""
    if isinstance(value, str) and len(value) > limit:
        raise ParamError(f"Invalid string: {value[:40]}...; must be at most {limit} characters",
                         code="parameter_invalid_string", param=name)
    return value


def build_session(p: Obj, base_url: str, enabled_methods: list[str]) -> tuple[Obj, list[Obj], list[Obj], Obj]:
    """Validate ``POST /v1/checkout/sessions`` params; return (session, line items, shipping
    rates, payment_intent_data). ``enabled_methods`` are the payment methods the account has
    turned on (Stripe's dashboard); the session offers those its currency allows, filtered by
    ``allowed_payment_method_types``. Raises ``ParamError`` with ``param`` set."""
    check_known(p, SESSION_CREATE)
    check_metadata(p)
    mode = required(p, "mode", "mode")
    if mode != "payment":
        raise ParamError("The Stripe sandbox only supports mode=payment." if mode in ("setup", "subscription")
                         else "Invalid mode: must be one of payment, setup, or subscription", param="mode")
    success_url, cancel_url = url(p, "success_url", is_required=True), url(p, "cancel_url")
    email = p.get("customer_email")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ParamError(f"Invalid email address: {email}", code="email_invalid", param="customer_email")
    at_most(p.get("client_reference_id"), MAX_CLIENT_REFERENCE_ID, "client_reference_id")
    ts = now()
    cur: str | None = None
    lines = required(p, "line_items", "line_items")
    if len(lines) > MAX_LINE_ITEMS:
        raise ParamError(f"A Checkout Session in payment mode can have at most {MAX_LINE_ITEMS} line items; "
                         f"you passed {len(lines)}.", param="line_items")
    items: list[Obj] = []
    for i, line in enumerate(lines):
        base = f"line_items[{i}]"
        price = required(line, "price_data", f"{base}[price_data]")
        line_currency = currency(required(price, "currency", f"{base}[price_data][currency]"),
                                 f"{base}[price_data][currency]")
        if cur not in (None, line_currency):
            raise ParamError("All line items must use the same currency.", param=f"{base}[price_data][currency]")
        cur = line_currency
        unit = integer(required(price, "unit_amount", f"{base}[price_data][unit_amount]"),
                       f"{base}[price_data][unit_amount]", minimum=1)
        product = required(price, "product_data", f"{base}[price_data][product_data]")
        name = at_most(required(product, "name", f"{base}[price_data][product_data][name]"), MAX_STRING,
                       f"{base}[price_data][product_data][name]")
        qty = integer(required(line, "quantity", f"{base}[quantity]"), f"{base}[quantity]", minimum=1)
        items.append({
            "id": new_id("li_"), "object": "item", "amount_discount": 0, "amount_subtotal": unit * qty,
            "amount_tax": 0, "amount_total": unit * qty, "currency": cur, "description": name,
            "quantity": qty,
            "price": {"id": new_id("price_"), "object": "price", "active": False, "billing_scheme": "per_unit",
                      "created": ts, "currency": cur, "livemode": False, "metadata": {},
                      "product": new_id("prod_"), "recurring": None, "tax_behavior": "unspecified",
                      "type": "one_time", "unit_amount": unit},
            # Sandbox extension: the price_data as sent, so tests can see product metadata.
            "price_data": {"currency": cur, "unit_amount": unit, "product_data": {
                "name": name, "description": product.get("description"),
                "metadata": product.get("metadata") or {}}},
        })
    options = p.get("shipping_options") or []
    if len(options) > MAX_SHIPPING_OPTIONS:
        raise ParamError(f"A Checkout Session can have at most {MAX_SHIPPING_OPTIONS} shipping options.",
                         param="shipping_options")
    rates: list[Obj] = []
    for j, option in enumerate(options):
        base = f"shipping_options[{j}][shipping_rate_data]"
        data = required(option, "shipping_rate_data", base)
        if data.get("type", "fixed_amount") != "fixed_amount":
            raise ParamError("Invalid type: must be fixed_amount", param=f"{base}[type]")
        fixed = required(data, "fixed_amount", f"{base}[fixed_amount]")
        amount = integer(required(fixed, "amount", f"{base}[fixed_amount][amount]"),
                         f"{base}[fixed_amount][amount]", minimum=0)
        if currency(fixed.get("currency"), f"{base}[fixed_amount][currency]") != cur:
            raise ParamError("Shipping rate currency must match the line items' currency.",
                             param=f"{base}[fixed_amount][currency]")
        estimate = {edge: {"unit": bound.get("unit"),
                           "value": integer(bound.get("value"), f"{base}[delivery_estimate][{edge}][value]")}
                    for edge, bound in (data.get("delivery_estimate") or {}).items()}
        display_name = at_most(required(data, "display_name", f"{base}[display_name]"),
                               MAX_SHIPPING_RATE_NAME, f"{base}[display_name]")
        rates.append({
            "id": new_id("shr_"), "object": "shipping_rate", "active": True, "created": ts,
            "delivery_estimate": estimate or None, "display_name": display_name,
            "fixed_amount": {"amount": amount, "currency": cur}, "livemode": False,
            "metadata": data.get("metadata") or {}, "tax_behavior": "unspecified", "tax_code": None,
            "type": "fixed_amount",
        })
    collection = p.get("shipping_address_collection")
    if collection is not None:
        countries = required(collection, "allowed_countries", "shipping_address_collection[allowed_countries]")
        collection = {"allowed_countries": countries}  # each one of Stripe's (conformance checks the enum)
    expires_at = ts + 24 * 3600
    if p.get("expires_at") is not None:
        expires_at = integer(p["expires_at"], "expires_at")
        if not ts + 30 * 60 <= expires_at <= ts + 24 * 3600:
            raise ParamError("The `expires_at` timestamp must be between 30 minutes and 24 hours "
                             "from Checkout Session creation.", param="expires_at")
    allowed = p.get("allowed_payment_method_types")
    methods = [m for m in enabled_methods if m != "bacs_debit" or cur == "gbp"]  # Bacs takes pounds only
    if allowed:
        methods = [m for m in methods if m in allowed]
    if not methods:
        raise ParamError("No valid payment method types for this Checkout Session: none of "
                         f"{', '.join(allowed or enabled_methods)} is enabled on this account for {cur}.",
                         param="allowed_payment_method_types")
    phone = p.get("phone_number_collection")
    subtotal = sum(item["amount_subtotal"] for item in items)
    shipping = rates[0]["fixed_amount"]["amount"] if rates else 0
    if subtotal + max((r["fixed_amount"]["amount"] for r in rates), default=0) > MAX_AMOUNT:
        # Stripe's largest charge: eight digits in a two-decimal currency such as GBP.
        raise ParamError("Specified amount is greater than maximum amount allowed. Use a lower amount and try again.",
                         code="amount_too_large")
    sid = new_id("cs_test_", 58)
    session = {
        "id": sid, "object": "checkout.session", "adaptive_pricing": None, "after_expiration": None,
        "allow_promotion_codes": (boolean(p["allow_promotion_codes"], "allow_promotion_codes")
                                  if p.get("allow_promotion_codes") is not None else None),
        "allowed_payment_method_types": allowed or None,
        "amount_subtotal": subtotal, "amount_total": subtotal + shipping,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": one_of(p, "billing_address_collection", ("auto", "required")),
        "cancel_url": cancel_url, "client_reference_id": p.get("client_reference_id"), "client_secret": None,
        "collected_information": None, "consent": None, "consent_collection": None, "created": ts,
        "currency": cur, "custom_fields": [], "customer": None, "customer_creation": "if_required",
        "customer_details": None, "customer_email": email, "discounts": [],
        "excluded_payment_method_types": None, "expires_at": expires_at,
        "invoice": None, "invoice_creation": None, "livemode": False, "locale": p.get("locale"),
        "metadata": p.get("metadata") or {}, "mode": "payment", "payment_intent": None, "payment_link": None,
        "payment_method_collection": "if_required", "payment_method_types": methods,
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": boolean(phone.get("enabled", "false"), "phone_number_collection[enabled]")
                                    if phone else False},
        "recovered_from": None, "shipping_address_collection": collection,
        "shipping_cost": ({"amount_subtotal": shipping, "amount_tax": 0, "amount_total": shipping,
                           "shipping_rate": rates[0]["id"]} if rates else None),
        "shipping_options": [{"shipping_amount": r["fixed_amount"]["amount"], "shipping_rate": r["id"]}
                             for r in rates],
        "status": "open", "submit_type": one_of(p, "submit_type", ("auto", "book", "donate", "pay", "subscribe")),
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": shipping, "amount_tax": 0},
        "ui_mode": "hosted_page", "url": f"{base_url}/pay/{sid}",
    }
    return session, items, rates, p.get("payment_intent_data") or {}
