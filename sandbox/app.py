"""The sandbox's WSGI app: a Stripe-compatible ``/v1`` API, the hosted payment page
``/pay/<id>``, and the test control API ``/_sandbox``."""

from __future__ import annotations

import functools
import logging
import operator
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Flask, Response, g, redirect, render_template_string, request
from werkzeug.exceptions import HTTPException

from .state import (
    API_VERSION,
    CARD_OK,
    FailureRule,
    Obj,
    SandboxError,
    SandboxState,
    format_money,
    new_id,
    now,
)

log = logging.getLogger(__name__)

# Schemas of accepted parameters: a dict of name -> sub-schema; None is a scalar,
# [schema] a list of schema, ANY a free-form map (metadata).
ANY = "any"
_EXPAND = [None]
SESSION_CREATE: Obj = {
    "mode": None, "success_url": None, "cancel_url": None, "client_reference_id": None,
    "metadata": ANY, "expires_at": None, "customer_email": None, "locale": None,
    "submit_type": None, "billing_address_collection": None, "expand": _EXPAND,
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
}
SESSION_LIST: Obj = {"limit": None, "starting_after": None, "ending_before": None, "created": ANY,
                     "status": None, "payment_intent": None, "expand": _EXPAND}
PAGE_ONLY: Obj = {"limit": None, "starting_after": None, "ending_before": None, "expand": _EXPAND}
REFUND_CREATE: Obj = {"payment_intent": None, "charge": None, "amount": None, "reason": None,
                      "metadata": ANY, "expand": _EXPAND}
EXPAND_ONLY: Obj = {"expand": _EXPAND}
REFUND_LIST: Obj = {**PAGE_ONLY, "payment_intent": None, "charge": None, "created": ANY}
_COLLECTIONS = {"payment_intents": "payment_intent", "charges": "charge", "refunds": "refund",
                "shipping_rates": "shipping_rate", "events": "event"}
_CREATED_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


# -- parameters ------------------------------------------------------------------------

def parse_params(pairs: Any) -> Obj:
    """Nest Stripe's form encoding (``a[b][0][c]=v``) into dicts and lists of strings.
    Dicts whose keys are all digits become lists, except ``metadata`` maps."""
    root: Obj = {}
    for key, value in pairs:
        match = _KEY_RE.match(key)
        if not match:
            raise SandboxError(400, f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for i, part in enumerate(parts):
            part = part or str(len(node))  # "a[]=" appends
            if i == len(parts) - 1:
                node[part] = value
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SandboxError(400, f"Invalid parameter nesting: {key}", param=key)
    return _listify(root, "")


def _listify(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, k) for k, v in node.items()}
    if out and name != "metadata" and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def check_known(params: Any, schema: Any, prefix: str = "") -> None:
    """Reject parameters absent from ``schema`` like Stripe (400 ``parameter_unknown``)."""
    if schema is ANY:
        return
    if schema is None:
        if isinstance(params, (dict, list)):
            raise SandboxError(400, f"Invalid value for {prefix}: expected a string.", param=prefix)
        return
    if isinstance(schema, list):
        if not isinstance(params, list):
            raise SandboxError(400, "Invalid array", param=prefix)
        for i, item in enumerate(params):
            check_known(item, schema[0], f"{prefix}[{i}]")
        return
    if not isinstance(params, dict):
        raise SandboxError(400, "Invalid object", param=prefix)
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in schema:
            raise SandboxError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        check_known(value, schema[key], name)


def _missing(name: str) -> SandboxError:
    return SandboxError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def _required(params: Obj, key: str, name: str) -> Any:
    value = params.get(key)
    if value in (None, "", [], {}):
        raise _missing(name)
    return value


def _int(value: Any, name: str, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SandboxError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name) from None
    if minimum is not None and number < minimum:
        raise SandboxError(400, f"This value must be greater than or equal to {minimum}.",
                           code="parameter_invalid_integer", param=name)
    return number


def _bool(value: Any, name: str) -> bool:
    if value not in ("true", "false"):
        raise SandboxError(400, f"Invalid boolean: {value}", param=name)
    return value == "true"


def _currency(value: Any, name: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise SandboxError(400, f"Invalid currency: {value}", code="parameter_invalid_string", param=name)
    return value.lower()


def _one_of(params: Obj, key: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(key)
    if value is not None and value not in allowed:
        raise SandboxError(400, f"Invalid {key}: must be one of {', '.join(allowed)}", param=key)
    return value


def _url(params: Obj, key: str, required: bool = False) -> str | None:
    value = _required(params, key, key) if required else params.get(key)
    if value is not None and not re.match(r"^https?://\S+$", value):
        raise SandboxError(400, "Not a valid URL", code="url_invalid", param=key)
    return value


def build_session(p: Obj, base_url: str) -> tuple[Obj, list[Obj], list[Obj], Obj]:
    """Validate ``POST /v1/checkout/sessions`` params; return (session, line items,
    shipping rates, payment_intent_data). Raises 400 ``SandboxError`` with ``param`` set."""
    check_known(p, SESSION_CREATE)
    mode = _required(p, "mode", "mode")
    if mode != "payment":
        raise SandboxError(400, "The Stripe sandbox only supports mode=payment." if mode in ("setup", "subscription")
                           else "Invalid mode: must be one of payment, setup, or subscription", param="mode")
    success_url, cancel_url = _url(p, "success_url", required=True), _url(p, "cancel_url")
    email = p.get("customer_email")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise SandboxError(400, f"Invalid email address: {email}", code="email_invalid", param="customer_email")
    ts = now()
    currency: str | None = None
    items: list[Obj] = []
    for i, line in enumerate(_required(p, "line_items", "line_items")):
        base = f"line_items[{i}]"
        price = _required(line, "price_data", f"{base}[price_data]")
        cur = _currency(_required(price, "currency", f"{base}[price_data][currency]"), f"{base}[price_data][currency]")
        if currency not in (None, cur):
            raise SandboxError(400, "All line items must use the same currency.", param=f"{base}[price_data][currency]")
        currency = cur
        unit = _int(_required(price, "unit_amount", f"{base}[price_data][unit_amount]"),
                    f"{base}[price_data][unit_amount]", minimum=1)
        product = _required(price, "product_data", f"{base}[price_data][product_data]")
        name = _required(product, "name", f"{base}[price_data][product_data][name]")
        qty = _int(_required(line, "quantity", f"{base}[quantity]"), f"{base}[quantity]", minimum=1)
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
    rates: list[Obj] = []
    for j, option in enumerate(p.get("shipping_options") or []):
        base = f"shipping_options[{j}][shipping_rate_data]"
        data = _required(option, "shipping_rate_data", base)
        if data.get("type", "fixed_amount") != "fixed_amount":
            raise SandboxError(400, "Invalid type: must be fixed_amount", param=f"{base}[type]")
        fixed = _required(data, "fixed_amount", f"{base}[fixed_amount]")
        amount = _int(_required(fixed, "amount", f"{base}[fixed_amount][amount]"),
                      f"{base}[fixed_amount][amount]", minimum=0)
        if _currency(fixed.get("currency"), f"{base}[fixed_amount][currency]") != currency:
            raise SandboxError(400, "Shipping rate currency must match the line items' currency.",
                               param=f"{base}[fixed_amount][currency]")
        estimate = {edge: {"unit": bound.get("unit"),
                           "value": _int(bound.get("value"), f"{base}[delivery_estimate][{edge}][value]")}
                    for edge, bound in (data.get("delivery_estimate") or {}).items()}
        rates.append({
            "id": new_id("shr_"), "object": "shipping_rate", "active": True, "created": ts,
            "delivery_estimate": estimate or None,
            "display_name": _required(data, "display_name", f"{base}[display_name]"),
            "fixed_amount": {"amount": amount, "currency": currency}, "livemode": False,
            "metadata": data.get("metadata") or {}, "tax_behavior": "unspecified", "tax_code": None,
            "type": "fixed_amount",
        })
    collection = p.get("shipping_address_collection")
    if collection is not None:
        countries = _required(collection, "allowed_countries", "shipping_address_collection[allowed_countries]")
        for k, country in enumerate(countries):
            if not re.fullmatch(r"[A-Z]{2}", country):
                raise SandboxError(400, f"Invalid country: {country}",
                                   param=f"shipping_address_collection[allowed_countries][{k}]")
        collection = {"allowed_countries": countries}
    expires_at = ts + 24 * 3600
    if p.get("expires_at") is not None:
        expires_at = _int(p["expires_at"], "expires_at")
        if not ts + 30 * 60 <= expires_at <= ts + 24 * 3600:
            raise SandboxError(400, "The `expires_at` timestamp must be between 30 minutes and 24 hours "
                               "from Checkout Session creation.", param="expires_at")
    phone = p.get("phone_number_collection")
    subtotal = sum(item["amount_subtotal"] for item in items)
    shipping = rates[0]["fixed_amount"]["amount"] if rates else 0
    sid = new_id("cs_test_", 58)
    session = {
        "id": sid, "object": "checkout.session", "adaptive_pricing": None, "after_expiration": None,
        "allow_promotion_codes": None, "amount_subtotal": subtotal, "amount_total": subtotal + shipping,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": _one_of(p, "billing_address_collection", ("auto", "required")),
        "cancel_url": cancel_url, "client_reference_id": p.get("client_reference_id"), "client_secret": None,
        "collected_information": None, "consent": None, "consent_collection": None, "created": ts,
        "currency": currency, "custom_fields": [], "customer": None, "customer_creation": "if_required",
        "customer_details": None, "customer_email": email, "discounts": [], "expires_at": expires_at,
        "invoice": None, "invoice_creation": None, "livemode": False, "locale": p.get("locale"),
        "metadata": p.get("metadata") or {}, "mode": "payment", "payment_intent": None, "payment_link": None,
        "payment_method_collection": "if_required", "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": _bool(phone.get("enabled", "false"), "phone_number_collection[enabled]")
                                    if phone else False},
        "recovered_from": None, "shipping_address_collection": collection,
        "shipping_cost": ({"amount_subtotal": shipping, "amount_tax": 0, "amount_total": shipping,
                           "shipping_rate": rates[0]["id"]} if rates else None),
        "shipping_options": [{"shipping_amount": r["fixed_amount"]["amount"], "shipping_rate": r["id"]}
                             for r in rates],
        "status": "open", "submit_type": _one_of(p, "submit_type", ("auto", "book", "donate", "pay", "subscribe")),
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": shipping, "amount_tax": 0},
        "ui_mode": "hosted_page", "url": f"{base_url}/pay/{sid}",
    }
    return session, items, rates, p.get("payment_intent_data") or {}


# -- lists and expansion ---------------------------------------------------------------

def paginate(items: list[Obj], p: Obj, url: str, kind: str,
             keep: Callable[[Obj], bool] = lambda _: True) -> Obj:
    """A Stripe list object over ``items`` (in list order) filtered by ``keep``, honouring
    ``limit`` (1..100, default 10), ``starting_after`` and ``ending_before``. Cursors are
    located among all items, so a cursor outside the filter still works like Stripe's."""
    limit = _int(p.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise SandboxError(400, "This value must be less than or equal to 100.", param="limit")
    after, before = p.get("starting_after"), p.get("ending_before")
    if after and before:
        raise SandboxError(400, "You may only specify one of these parameters: ending_before, starting_after.")
    ids = [item["id"] for item in items]
    for param, cursor in (("starting_after", after), ("ending_before", before)):
        if cursor and cursor not in ids:
            raise SandboxError(404, f"No such {kind}: '{cursor}'", code="resource_missing", param=param)
    if before:
        pool = [o for o in items[:ids.index(before)] if keep(o)]
        page = pool[-limit:]
    else:
        pool = [o for o in items[ids.index(after) + 1 if after else 0:] if keep(o)]
        page = pool[:limit]
    return {"object": "list", "data": page, "has_more": len(pool) > limit, "url": url}


def expand(state: SandboxState, obj: Obj, paths: list[str]) -> Obj:
    """Replace id fields named by dotted ``paths`` with their objects, as Stripe's
    ``expand[]`` (``line_items`` on sessions, ``data.`` prefixes on lists)."""
    for path in paths:
        _expand(state, obj, path.split("."), path)
    return obj


def _expand(state: SandboxState, node: Obj, parts: list[str], path: str) -> Obj:
    head, rest = parts[0], parts[1:]
    if node.get("object") == "list" and head == "data":
        for item in node["data"]:
            if rest:
                _expand(state, item, rest, path)
        return node
    if head == "line_items" and node.get("object") == "checkout.session":
        value: Any = {"object": "list", "data": state.session_line_items(node["id"]), "has_more": False,
                      "url": f"/v1/checkout/sessions/{node['id']}/line_items"}
    elif head in node:
        value = node[head]
        if isinstance(value, str):
            value = state.lookup(value)
            if value is None:
                raise SandboxError(400, f"This property cannot be expanded ({path}).", param="expand")
    else:
        raise SandboxError(400, f"This property cannot be expanded ({path}).", param="expand")
    node[head] = _expand(state, value, rest, path) if rest and isinstance(value, dict) else value
    return node


# -- hosted payment page ---------------------------------------------------------------

COUNTRY_NAMES = {"GB": "United Kingdom", "IE": "Ireland", "US": "United States", "CA": "Canada",
                 "AU": "Australia", "NZ": "New Zealand", "FR": "France", "DE": "Germany",
                 "NL": "Netherlands", "ES": "Spain", "IT": "Italy"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% if message or errors %}Error: {% endif %}{{ title }} – Stripe sandbox</title>
<style>
body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#1a1a1a;background:#fff}
main{max-width:34rem;margin:0 auto;padding:1rem}
table{width:100%;border-collapse:collapse}caption{text-align:left;font-weight:600}
th,td{padding:.4rem .25rem;text-align:left;border-bottom:1px solid #ccc}.n{text-align:right}
fieldset{border:1px solid #999;margin:1rem 0;padding:.75rem;min-width:0}legend{font-weight:600}
label{display:block;margin-top:.75rem;font-weight:600}
input,select,button{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:2px solid #555;border-radius:4px}
button{margin-top:1rem;background:#1d4ed8;border-color:#1d4ed8;color:#fff;font-weight:600;cursor:pointer}
:focus-visible{outline:3px solid #c2410c;outline-offset:2px}
a{color:#1d4ed8}.hint{color:#444;font-weight:400}.error{color:#b00020;font-weight:600;margin:.25rem 0}
.alert{border:3px solid #b00020;padding:.5rem .75rem;margin:1rem 0}
</style>
</head>
<body>
<main>
<p><strong>Test mode</strong> – Stripe sandbox, no real payment is taken.</p>
<h1>{{ title }}</h1>
{% if message or errors %}
<div class="alert" role="alert">
<h2>There is a problem</h2>
{% if message %}<p class="error">{{ message }}</p>{% endif %}
{% if errors %}<ul>{% for name, text in errors.items() %}<li><a href="#{{ name }}">{{ text }}</a></li>{% endfor %}</ul>{% endif %}
</div>
{% endif %}
{% if session %}
<table>
<caption>Order summary</caption>
<thead><tr><th scope="col">Item</th><th scope="col" class="n">Qty</th><th scope="col" class="n">Price</th></tr></thead>
<tbody>
{% for item in items %}<tr><td>{{ item.description }}</td><td class="n">{{ item.quantity }}</td><td class="n">{{ money(item.amount_total) }}</td></tr>
{% endfor %}
{% if rate %}<tr><td colspan="2">Shipping ({{ rate.display_name }})</td><td class="n">{{ money(session.total_details.amount_shipping) }}</td></tr>{% endif %}
</tbody>
<tfoot><tr><th scope="row" colspan="2">Total</th><td class="n"><strong>{{ money(session.amount_total) }}</strong></td></tr></tfoot>
</table>
{% macro field(name, label, type="text", autocomplete=none, hint=none, inputmode=none, optional=false) %}
{% set ids = ([name ~ "-hint"] if hint else []) + ([name ~ "-error"] if errors.get(name) else []) %}
<label for="{{ name }}">{{ label }}{% if optional %} <span class="hint">(optional)</span>{% endif %}</label>
{% if hint %}<div class="hint" id="{{ name }}-hint">{{ hint }}</div>{% endif %}
{% if errors.get(name) %}<p class="error" id="{{ name }}-error">{{ errors[name] }}</p>{% endif %}
<input id="{{ name }}" name="{{ name }}" type="{{ type }}" value="{{ values.get(name, "") }}"
{%- if autocomplete %} autocomplete="{{ autocomplete }}"{% endif %}{% if inputmode %} inputmode="{{ inputmode }}"{% endif %}
{%- if not optional %} required{% endif %}{% if ids %} aria-describedby="{{ ids|join(" ") }}"{% endif %}
{%- if errors.get(name) %} aria-invalid="true"{% endif %}>
{% endmacro %}
<form method="post" novalidate>
<fieldset><legend>Contact</legend>{{ field("email", "Email address", "email", "email") }}</fieldset>
<fieldset><legend>{{ "Shipping address" if session.shipping_address_collection else "Billing address" }}</legend>
{{ field("name", "Full name", autocomplete="name") }}
{{ field("line1", "Address line 1", autocomplete="address-line1") }}
{{ field("line2", "Address line 2", autocomplete="address-line2", optional=true) }}
{{ field("city", "Town or city", autocomplete="address-level2") }}
{{ field("postal_code", "Postcode", autocomplete="postal-code") }}
<label for="country">Country</label>
{% if errors.country %}<p class="error" id="country-error">{{ errors.country }}</p>{% endif %}
<select id="country" name="country" autocomplete="country" required{% if errors.country %} aria-invalid="true" aria-describedby="country-error"{% endif %}>
{% for code in countries %}<option value="{{ code }}"{% if values.get("country") == code %} selected{% endif %}>{{ country_names.get(code, code) }}</option>
{% endfor %}</select>
</fieldset>
<fieldset><legend>Card details</legend>
{{ field("card_number", "Card number", autocomplete="cc-number", inputmode="numeric", hint="Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.") }}
{{ field("expiry", "Expiry date (MM/YY)", autocomplete="cc-exp", inputmode="numeric") }}
{{ field("cvc", "Security code (CVC)", autocomplete="cc-csc", inputmode="numeric", hint="3 or 4 digits, usually on the back of the card.") }}
</fieldset>
<button type="submit">Pay {{ money(session.amount_total) }}</button>
</form>
{% endif %}
{% if cancel_url %}<p><a href="{{ cancel_url }}">{{ "Cancel and return to the shop" if session else "Return to the shop" }}</a></p>{% endif %}
</main>
</body>
</html>
"""

_CLOSED_TITLES = {"expired": "This checkout session has expired", "complete": "This checkout session is already paid"}


def _check_form(form: Any, countries: list[str]) -> dict[str, str]:
    """Per-field messages for the payment form (empty when it is acceptable)."""
    errors: dict[str, str] = {}
    email = form.get("email", "").strip()
    if not email:
        errors["email"] = "Enter your email address."
    elif not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["email"] = "Enter an email address in the correct format, like name@example.com."
    for name, text in (("name", "Enter your full name."), ("line1", "Enter the first line of your address."),
                       ("city", "Enter your town or city."), ("postal_code", "Enter your postcode.")):
        if not form.get(name, "").strip():
            errors[name] = text
    if form.get("country") not in countries:
        errors["country"] = "Select a country we deliver to."
    if not form.get("card_number", "").strip():
        errors["card_number"] = "Enter your card number."
    expiry = re.fullmatch(r"\s*(0[1-9]|1[0-2])\s*/\s*(\d{2})\s*", form.get("expiry", ""))
    if not expiry:
        errors["expiry"] = "Enter the expiry date as MM/YY, for example 04/30."
    elif (2000 + int(expiry.group(2)), int(expiry.group(1))) < time.gmtime()[:2]:
        errors["expiry"] = "Your card's expiry date is in the past."
    if not re.fullmatch(r"\d{3,4}", form.get("cvc", "").strip()):
        errors["cvc"] = "Enter the 3 or 4 digit security code."
    return errors


# -- the app ---------------------------------------------------------------------------

def create_sandbox_app(state: SandboxState) -> Flask:
    """Build the WSGI app serving ``state``. See the package docstring for the routes."""
    app = Flask(__name__)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True  # tidy page HTML

    def render_page(status: int, *, session: Obj | None = None, title: str, message: str | None = None,
                    errors: dict[str, str] | None = None, values: Any = None,
                    back: str | None = None) -> tuple[str, int]:
        countries: list[str] = []
        if session:
            countries = ((session["shipping_address_collection"] or {}).get("allowed_countries")
                         or list(COUNTRY_NAMES))
        html = render_template_string(
            PAGE, session=session, title=title, message=message, errors=errors or {},
            values={k: v for k, v in (values or {}).items() if k not in ("card_number", "cvc", "expiry")},
            items=state.session_line_items(session["id"]) if session else [],
            rate=state.lookup(session["shipping_cost"]["shipping_rate"]) if session and session["shipping_cost"] else None,
            countries=countries, country_names=COUNTRY_NAMES,
            cancel_url=session["cancel_url"] if session else back,
            money=lambda amount: format_money(amount, session["currency"]) if session else "")
        return html, status

    def idempotent(view: Callable[..., Obj]) -> Callable[..., Response]:
        """Apply Stripe's Idempotency-Key semantics to a POST view returning a dict: a key
        (per API key) replays its stored 2xx response with ``Idempotent-Replayed: true``;
        reusing it with other params or on another endpoint is a 400 ``idempotency_error``.
        Errors are not stored, so a retry after a failure executes afresh."""
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            key = request.headers.get("Idempotency-Key")
            if not key:
                return app.json.response(view(**kwargs))
            endpoint = f"{request.method} {request.path}"
            with state.lock:  # check, execute and store atomically
                record = state.idempotency.get((g.api_key, key))
                if record is not None:
                    if record["endpoint"] != endpoint:
                        raise SandboxError(400, "Keys for idempotent requests can only be used for the same endpoint "
                                           f"they were first used for ('{record['endpoint']}' vs '{endpoint}'). Try "
                                           f"using a key other than '{key}' if you meant to execute a different "
                                           "request.", type="idempotency_error")
                    if record["params"] != g.params:
                        raise SandboxError(400, "Keys for idempotent requests can only be used with the same "
                                           f"parameters they were first used with. Try using a key other than "
                                           f"'{key}' if you meant to execute a different request.",
                                           type="idempotency_error")
                    g.replayed = True
                    response = Response(record["body"], record["status"], mimetype="application/json")
                    response.headers["Idempotent-Replayed"] = "true"
                    return response
                response = app.json.response(view(**kwargs))
                state.idempotency[(g.api_key, key)] = {"endpoint": endpoint, "params": g.params,
                                                       "status": response.status_code, "body": response.get_data()}
                return response
        return wrapper

    @app.before_request
    def v1_gate() -> Response | None:
        """For /v1: parse params, apply injected failures, then authenticate."""
        if not request.path.startswith("/v1/"):
            return None
        g.params = parse_params((request.form if request.method == "POST" else request.args).items(multi=True))
        rule = state.take_failure(request.path, request.method)
        if rule:
            if rule.delay:
                time.sleep(rule.delay)
            if not 200 <= rule.status < 300:
                g.injected = True
                response = app.json.response(rule.error_body())
                response.status_code = rule.status
                return response
        auth = request.authorization
        key = (auth.username if auth.type == "basic" else auth.token) if auth else None
        if not key:
            raise SandboxError(401, "You did not provide an API key. You need to provide your API key in the "
                               "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                               "YOUR_SECRET_KEY').", type="authentication_error")
        if not key.startswith("sk_test_"):
            masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            raise SandboxError(401, f"Invalid API Key provided: {masked}. This Stripe sandbox only accepts "
                               "test-mode secret keys (sk_test_...).", type="authentication_error")
        g.api_key = key
        return None

    @app.after_request
    def v1_log(response: Response) -> Response:
        if request.path.startswith("/v1/"):
            response.headers["Request-Id"] = new_id("req_", 14)
            response.headers["Stripe-Version"] = request.headers.get("Stripe-Version") or API_VERSION
            state.log_request({
                "at": time.time(), "method": request.method, "path": request.path, "params": g.get("params"),
                "idempotency_key": request.headers.get("Idempotency-Key"),
                "stripe_version": request.headers.get("Stripe-Version"), "status": response.status_code,
                "replayed": g.get("replayed", False), "injected": g.get("injected", False)})
        return response

    @app.errorhandler(SandboxError)
    def sandbox_error(exc: SandboxError) -> tuple[Response, int]:
        return app.json.response(exc.body()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not request.path.startswith(("/v1/", "/_sandbox/")):
            return exc
        message = (f"Unrecognized request URL ({request.method}: {request.path})."
                   if exc.code in (404, 405) else exc.description)
        return app.json.response({"error": {"type": "invalid_request_error", "message": message}}), exc.code

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> tuple[Response, int]:
        log.exception("sandbox bug on %s %s", request.method, request.path)
        return app.json.response({"error": {"type": "api_error", "message": f"Sandbox internal error: {exc!r}"}}), 500

    # -- /v1 ----------------------------------------------------------------------------

    @app.post("/v1/checkout/sessions")
    @idempotent
    def create_session() -> Obj:
        session, items, rates, pi_data = build_session(g.params, request.host_url.rstrip("/"))
        return expand(state, state.add_session(session, items, rates, pi_data), g.params.get("expand", []))

    @app.get("/v1/checkout/sessions")
    def list_sessions() -> Obj:
        p = g.params
        check_known(p, SESSION_LIST)
        created = p.get("created")
        bounds: dict[str, int] = {}
        if isinstance(created, dict):
            check_known(created, dict.fromkeys(_CREATED_OPS), "created")
            bounds = {op: _int(v, f"created[{op}]") for op, v in created.items()}
        elif created is not None:
            bounds = {"eq": _int(created, "created")}

        def keep(s: Obj) -> bool:
            return ((p.get("status") is None or s["status"] == p["status"])
                    and (p.get("payment_intent") is None or s["payment_intent"] == p["payment_intent"])
                    and (created is None or all(_CREATED_OPS.get(op, operator.eq)(s["created"], bound)
                                                for op, bound in bounds.items())))

        page = paginate(state.all("checkout.session"), p, "/v1/checkout/sessions", "checkout.session", keep)
        return expand(state, page, p.get("expand", []))

    @app.get("/v1/checkout/sessions/<sid>")
    def retrieve_session(sid: str) -> Obj:
        check_known(g.params, EXPAND_ONLY)
        return expand(state, state.get("checkout.session", sid), g.params.get("expand", []))

    @app.get("/v1/checkout/sessions/<sid>/line_items")
    def session_line_items(sid: str) -> Obj:
        check_known(g.params, PAGE_ONLY)
        return paginate(state.session_line_items(sid), g.params, f"/v1/checkout/sessions/{sid}/line_items", "item")

    @app.post("/v1/checkout/sessions/<sid>/expire")
    @idempotent
    def expire_session(sid: str) -> Obj:
        check_known(g.params, EXPAND_ONLY)
        return expand(state, state.expire_session(sid)[0], g.params.get("expand", []))

    @app.get(f"/v1/<any({', '.join(_COLLECTIONS)}):collection>/<oid>")
    def retrieve_object(collection: str, oid: str) -> Obj:
        check_known(g.params, EXPAND_ONLY)
        return expand(state, state.get(_COLLECTIONS[collection], oid), g.params.get("expand", []))

    @app.get("/v1/refunds")
    def list_refunds() -> Obj:
        p = g.params
        check_known(p, REFUND_LIST)

        def keep(r: Obj) -> bool:
            return ((p.get("payment_intent") is None or r["payment_intent"] == p["payment_intent"])
                    and (p.get("charge") is None or r["charge"] == p["charge"]))

        return expand(state, paginate(state.all("refund"), p, "/v1/refunds", "refund", keep),
                      p.get("expand", []))

    @app.post("/v1/refunds")
    @idempotent
    def create_refund() -> Obj:
        p = g.params
        check_known(p, REFUND_CREATE)
        refund = state.create_refund(
            payment_intent=p.get("payment_intent"), charge=p.get("charge"),
            amount=_int(p["amount"], "amount") if p.get("amount") is not None else None,
            reason=_one_of(p, "reason", ("duplicate", "fraudulent", "requested_by_customer")),
            metadata=p.get("metadata"))
        return expand(state, refund, p.get("expand", []))

    # -- hosted payment page --------------------------------------------------------------

    @app.route("/pay/<sid>", methods=["GET", "POST"])
    def pay(sid: str) -> Any:
        try:
            session = state.get("checkout.session", sid)
        except SandboxError:
            return render_page(404, title="Checkout session not found")
        if session["status"] != "open":
            return render_page(410, title=_CLOSED_TITLES[session["status"]], back=session["cancel_url"])
        title = f"Pay {format_money(session['amount_total'], session['currency'])}"
        if request.method == "GET":
            values = {"email": session["customer_email"] or ""}
            return render_page(200, session=session, title=title, values=values)
        form = request.form
        countries = ((session["shipping_address_collection"] or {}).get("allowed_countries") or list(COUNTRY_NAMES))
        errors = _check_form(form, countries)
        if errors:
            return render_page(400, session=session, title=title, errors=errors, values=form)
        address = {"line1": form["line1"].strip(), "line2": form.get("line2", "").strip() or None,
                   "city": form["city"].strip(), "postal_code": form["postal_code"].strip(),
                   "state": None, "country": form["country"]}
        try:
            state.complete_session(sid, card=form["card_number"], email=form["email"].strip(),
                                   name=form["name"].strip(), address=address)
        except SandboxError as exc:
            if exc.status == 402:  # an incorrect number belongs to its field; a decline to the page
                field = {"card_number": str(exc)} if exc.error.get("param") == "number" else None
                return render_page(402, session=session, title=title, message=None if field else str(exc),
                                   errors=field, values=form)
            return render_page(410, title=str(exc), back=session["cancel_url"])  # expired/paid meanwhile
        return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid), 303)

    # -- control API ----------------------------------------------------------------------

    def body(*allowed: str) -> Obj:
        data = request.get_json(silent=True) if request.get_data() else {}
        if not isinstance(data, dict):
            raise SandboxError(400, "Expected a JSON object body.")
        unknown = set(data) - set(allowed)
        if unknown:
            raise SandboxError(400, f"Unknown field(s): {', '.join(sorted(unknown))}", param=sorted(unknown)[0])
        return data

    @app.route("/_sandbox/config", methods=["GET", "POST"])
    def control_config() -> Obj:
        if request.method == "POST":
            return state.configure(**body("webhook_url", "webhook_secret", "deliver_webhooks"))
        return asdict(state.config)

    @app.post("/_sandbox/reset")
    def control_reset() -> Obj:
        state.reset()
        return {"ok": True}

    @app.post("/_sandbox/fail")
    def control_fail() -> Obj:
        data = body("count", "status", "error", "delay", "path_prefix", "method")
        try:
            rule = FailureRule(count=int(data.get("count", 1)), status=int(data.get("status", 500)),
                               error=data.get("error"), delay=float(data.get("delay", 0)),
                               path_prefix=str(data.get("path_prefix", "/v1")),
                               method=data.get("method"))
        except (TypeError, ValueError) as exc:
            raise SandboxError(400, f"Invalid failure rule: {exc}") from None
        state.set_failure(rule)
        return {"failure": asdict(rule) if rule.count > 0 else None}

    @app.post("/_sandbox/sessions/<sid>/complete")
    def control_complete(sid: str) -> Obj:
        data = body("card", "email", "name", "address", "amount_total", "currency", "async")
        session, event_ids = state.complete_session(
            sid, card=data.get("card", CARD_OK), email=data.get("email"), name=data.get("name"),
            address=data.get("address"), amount_total=data.get("amount_total"), currency=data.get("currency"),
            async_payment=bool(data.get("async", False)))
        return {"session": session, "event_ids": event_ids}

    @app.post("/_sandbox/sessions/<sid>/async")
    def control_async(sid: str) -> Obj:
        data = body("succeeded")
        if not isinstance(data.get("succeeded"), bool):
            raise SandboxError(400, "succeeded (boolean) is required.", param="succeeded")
        session, event_ids = state.resolve_async(sid, data["succeeded"])
        return {"session": session, "event_ids": event_ids}

    @app.post("/_sandbox/sessions/<sid>/expire")
    def control_expire(sid: str) -> Obj:
        session, event_ids = state.expire_session(sid)
        return {"session": session, "event_ids": event_ids}

    @app.get("/_sandbox/events")
    def control_events() -> Obj:
        return {"data": state.events()}

    @app.get("/_sandbox/events/<eid>")
    def control_event(eid: str) -> Obj:
        return state.event_detail(eid)

    @app.post("/_sandbox/events/<eid>/deliver")
    def control_deliver(eid: str) -> Obj:
        return state.deliver(eid, body("url").get("url"))

    @app.get("/_sandbox/requests")
    def control_requests() -> Obj:
        with state.lock:
            return {"data": list(state.requests)}

    return app
