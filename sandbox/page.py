"""The hosted payment page ``/pay/<session id>``: the sandbox's stand-in for Stripe Checkout.

It offers the methods the session takes: a card (pays at once) and, for sessions in pounds,
Bacs Direct Debit (the payment stays processing until it settles). It works without JavaScript
and with the keyboard, and follows the shop's accessible form pattern (an error summary linking
to each field, ``aria-invalid``, hints tied to fields)."""

from __future__ import annotations

import re
import time
from typing import Any

from babel import Locale

from .state import BACS_FAILS, BACS_OK, BACS_SORT_CODE

_TERRITORIES = Locale.parse("en_GB").territories
METHOD_LABELS = {"card": "Card", "bacs_debit": "Bacs Direct Debit (UK bank account)"}


def country_name(code: str) -> str:
    return _TERRITORIES.get(code, code)


STYLE = """
body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#1a1a1a;background:#fff}
main{max-width:34rem;margin:0 auto;padding:1rem}
table{width:100%;border-collapse:collapse}caption{text-align:left;font-weight:600}
th,td{padding:.4rem .25rem;text-align:left;border-bottom:1px solid #ccc}.n{text-align:right}
fieldset{border:1px solid #999;margin:1rem 0;padding:.75rem;min-width:0}legend{font-weight:600}
label{display:block;margin-top:.75rem;font-weight:600}
input,select,button{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:2px solid #555;border-radius:4px}
.choice{display:flex;align-items:center;gap:.5rem;margin-top:.5rem}.choice input{width:auto;margin:0}.choice label{margin:0}
button{margin-top:1rem;background:#1d4ed8;border-color:#1d4ed8;color:#fff;font-weight:600;cursor:pointer}
:focus-visible{outline:3px solid #c2410c;outline-offset:2px}
a{color:#1d4ed8}.hint{color:#444;font-weight:400}.error{color:#b00020;font-weight:600;margin:.25rem 0}
.alert{border:3px solid #b00020;padding:.5rem .75rem;margin:1rem 0}
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% if message or errors %}Error: {% endif %}{{ title }} – Stripe sandbox</title>
<style>""" + STYLE + """</style>
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
{% macro field(name, label, type="text", autocomplete=none, hint=none, inputmode=none, optional=false, required=true) %}
{% set ids = ([name ~ "-hint"] if hint else []) + ([name ~ "-error"] if errors.get(name) else []) %}
<label for="{{ name }}">{{ label }}{% if optional %} <span class="hint">(optional)</span>{% endif %}</label>
{% if hint %}<div class="hint" id="{{ name }}-hint">{{ hint }}</div>{% endif %}
{% if errors.get(name) %}<p class="error" id="{{ name }}-error">{{ errors[name] }}</p>{% endif %}
<input id="{{ name }}" name="{{ name }}" type="{{ type }}" value="{{ values.get(name, "") }}"
{%- if autocomplete %} autocomplete="{{ autocomplete }}"{% endif %}{% if inputmode %} inputmode="{{ inputmode }}"{% endif %}
{%- if required and not optional %} required{% endif %}{% if ids %} aria-describedby="{{ ids|join(" ") }}"{% endif %}
{%- if errors.get(name) %} aria-invalid="true"{% endif %}>
{% endmacro %}
<form method="post" novalidate>
<fieldset><legend>Contact</legend>{{ field("email", "Email address", "email", "email") }}</fieldset>
{% if session.allow_promotion_codes %}
<fieldset><legend>Promotion code</legend>{{ field("promotion_code", "Promotion code", optional=true, hint="Its discount comes off the items (not the shipping) when you pay.") }}</fieldset>
{% endif %}
<fieldset><legend>{{ "Shipping address" if session.shipping_address_collection else "Billing address" }}</legend>
{{ field("name", "Full name", autocomplete="name") }}
{{ field("line1", "Address line 1", autocomplete="address-line1") }}
{{ field("line2", "Address line 2", autocomplete="address-line2", optional=true) }}
{{ field("city", "Town or city", autocomplete="address-level2") }}
{{ field("postal_code", "Postcode", autocomplete="postal-code") }}
<label for="country">Country</label>
{% if errors.country %}<p class="error" id="country-error">{{ errors.country }}</p>{% endif %}
<select id="country" name="country" autocomplete="country" required{% if errors.country %} aria-invalid="true" aria-describedby="country-error"{% endif %}>
{% for code in countries %}<option value="{{ code }}"{% if values.get("country") == code %} selected{% endif %}>{{ country_name(code) }}</option>
{% endfor %}</select>
</fieldset>
{% set methods = session.payment_method_types %}
{% if methods|length > 1 %}
<fieldset><legend>Pay with</legend>
{% for method in methods %}<div class="choice"><input type="radio" id="method-{{ method }}" name="payment_method" value="{{ method }}"{% if values.get("payment_method", methods[0]) == method %} checked{% endif %}><label for="method-{{ method }}">{{ method_labels.get(method, method) }}</label></div>
{% endfor %}</fieldset>
{% else %}<input type="hidden" name="payment_method" value="{{ methods[0] }}">
{% endif %}
{% if "card" in methods %}
<fieldset><legend>Card details</legend>
{{ field("card_number", "Card number", autocomplete="cc-number", inputmode="numeric", hint="Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.", required=methods|length == 1) }}
{{ field("expiry", "Expiry date (MM/YY)", autocomplete="cc-exp", inputmode="numeric", required=methods|length == 1) }}
{{ field("cvc", "Security code (CVC)", autocomplete="cc-csc", inputmode="numeric", hint="3 or 4 digits, usually on the back of the card.", required=methods|length == 1) }}
</fieldset>
{% endif %}
{% if "bacs_debit" in methods %}
<fieldset><legend>Bank account (Bacs Direct Debit)</legend>
<p class="hint">A Direct Debit takes a few working days to clear: the order waits until it has.</p>
{{ field("sort_code", "Sort code", inputmode="numeric", hint="Test: 10-88-00.", required=false) }}
{{ field("account_number", "Account number", inputmode="numeric", hint=bacs_hint, required=false) }}
</fieldset>
{% endif %}
<button type="submit">Pay {{ money(session.amount_total) }}</button>
</form>
{% endif %}
{% if cancel_url %}<p><a href="{{ cancel_url }}">{{ "Cancel and return to the shop" if session else "Return to the shop" }}</a></p>{% endif %}
</main>
</body>
</html>
"""

BACS_HINT = f"Test accounts: {BACS_OK} pays when it settles, {BACS_FAILS} fails."
CLOSED_TITLES = {"expired": "This checkout session has expired",
                 "complete": "This checkout session is already paid"}
# Fields never written back into the page: card and bank numbers stay with the browser.
SECRET_FIELDS = ("card_number", "cvc", "expiry", "sort_code", "account_number")


def check_form(form: Any, countries: list[str], methods: list[str]) -> dict[str, str]:
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
    method = form.get("payment_method") or methods[0]
    if method not in methods:
        errors[f"method-{methods[0]}"] = "Choose how to pay."
    elif method == "card":
        check_card_fields(form, errors)
    else:
        if re.sub(r"[\s-]", "", form.get("sort_code", "")) != BACS_SORT_CODE:
            errors["sort_code"] = "Enter the sort code, for example 10-88-00."
        if not re.fullmatch(r"\d{8}", form.get("account_number", "").strip()):
            errors["account_number"] = "Enter the 8 digit account number."
    return errors


def check_card_fields(form: Any, errors: dict[str, str]) -> None:
    """Card number, expiry (not past) and CVC: each present and well formed."""
    if not form.get("card_number", "").strip():
        errors["card_number"] = "Enter your card number."
    expiry = re.fullmatch(r"\s*(0[1-9]|1[0-2])\s*/\s*(\d{2})\s*", form.get("expiry", ""))
    if not expiry:
        errors["expiry"] = "Enter the expiry date as MM/YY, for example 04/30."
    elif (2000 + int(expiry.group(2)), int(expiry.group(1))) < time.gmtime()[:2]:
        errors["expiry"] = "Your card's expiry date is in the past."
    if not re.fullmatch(r"\d{3,4}", form.get("cvc", "").strip()):
        errors["cvc"] = "Enter the 3 or 4 digit security code."
