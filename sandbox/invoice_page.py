"""The hosted invoice page ``/invoice/<token>`` and its PDF: the sandbox's stand-in for the page
and PDF Stripe makes for every finalized invoice (``hosted_invoice_url``, ``invoice_pdf``).

The page shows the invoice (its number, custom fields such as a purchase order number, lines,
total, due date and status) and, while it can be paid, a card form and the bank details for a
transfer. It follows the payment page's accessible pattern (an error summary linking to each
field, ``aria-invalid``, hints tied to fields) and works without JavaScript."""

from __future__ import annotations

import time
from typing import Any

from fpdf import FPDF

from .page import STYLE, check_card_fields
from .state import Obj, format_money

INVOICE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% if message or errors %}Error: {% endif %}Invoice {{ invoice.number }} – Stripe sandbox</title>
<style>""" + STYLE + """</style>
</head>
<body>
<main>
<p><strong>Test mode</strong> – Stripe sandbox, no real payment is taken.</p>
<h1>Invoice {{ invoice.number }}</h1>
{% if message or errors %}
<div class="alert" role="alert">
<h2>There is a problem</h2>
{% if message %}<p class="error">{{ message }}</p>{% endif %}
{% if errors %}<ul>{% for name, text in errors.items() %}<li><a href="#{{ name }}">{{ text }}</a></li>{% endfor %}</ul>{% endif %}
</div>
{% endif %}
<p>From {{ invoice.account_name }} to {{ invoice.customer_name or invoice.customer_email }}.
{% if invoice.status == 'paid' %}<strong>Paid</strong>{% elif invoice.status == 'void' %}<strong>Void</strong>: nothing is owed{% else %}{{ money(invoice.amount_remaining) }} due{% if invoice.due_date %} by {{ due }}{% endif %}{% endif %}.</p>
{% if invoice.custom_fields %}<dl>{% for field in invoice.custom_fields %}<dt>{{ field.name }}</dt><dd>{{ field.value }}</dd>{% endfor %}</dl>{% endif %}
<table>
<caption>Invoice lines</caption>
<thead><tr><th scope="col">Item</th><th scope="col" class="n">Qty</th><th scope="col" class="n">Amount</th></tr></thead>
<tbody>
{% for line in lines %}<tr><td>{{ line.description }}</td><td class="n">{{ line.quantity }}</td><td class="n">{{ money(line.amount) }}</td></tr>
{% endfor %}
</tbody>
<tfoot><tr><th scope="row" colspan="2">Total</th><td class="n"><strong>{{ money(invoice.total) }}</strong></td></tr>
<tr><th scope="row" colspan="2">Amount due</th><td class="n">{{ money(invoice.amount_remaining) }}</td></tr></tfoot>
</table>
{% if invoice.footer %}<p class="hint">{{ invoice.footer }}</p>{% endif %}
<p><a href="{{ invoice.invoice_pdf }}">Download the invoice (PDF)</a></p>
{% if payable %}
{% macro field(name, label, type="text", autocomplete=none, hint=none, inputmode=none) %}
{% set ids = ([name ~ "-hint"] if hint else []) + ([name ~ "-error"] if errors.get(name) else []) %}
<label for="{{ name }}">{{ label }}</label>
{% if hint %}<div class="hint" id="{{ name }}-hint">{{ hint }}</div>{% endif %}
{% if errors.get(name) %}<p class="error" id="{{ name }}-error">{{ errors[name] }}</p>{% endif %}
<input id="{{ name }}" name="{{ name }}" type="{{ type }}" value="{{ values.get(name, "") }}" required
{%- if autocomplete %} autocomplete="{{ autocomplete }}"{% endif %}{% if inputmode %} inputmode="{{ inputmode }}"{% endif %}
{%- if ids %} aria-describedby="{{ ids|join(" ") }}"{% endif %}{% if errors.get(name) %} aria-invalid="true"{% endif %}>
{% endmacro %}
{% if "customer_balance" in methods %}
<h2>Pay by bank transfer</h2>
<p>Sort code {{ sort_code }}, account number {{ account }}, reference <strong>{{ invoice.number }}</strong>. (In the sandbox the control API marks a transfer received.)</p>
{% endif %}
{% if "card" in methods %}
<h2>Pay by card</h2>
<form method="post" novalidate>
{{ field("name", "Name on the card", autocomplete="cc-name") }}
{{ field("email", "Email for the receipt", "email", "email") }}
{{ field("card_number", "Card number", autocomplete="cc-number", inputmode="numeric", hint="Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.") }}
{{ field("expiry", "Expiry date (MM/YY)", autocomplete="cc-exp", inputmode="numeric") }}
{{ field("cvc", "Security code (CVC)", autocomplete="cc-csc", inputmode="numeric", hint="3 or 4 digits, usually on the back of the card.") }}
<button type="submit">Pay {{ money(invoice.amount_remaining) }}</button>
</form>
{% endif %}
{% endif %}
</main>
</body>
</html>
"""
#: The virtual account number the sandbox shows for transfers (Stripe gives one per customer).
TRANSFER_ACCOUNT = "12345678"


def check_card_form(form: Any) -> dict[str, str]:
    """Per-field messages for the invoice's card form (empty when it is acceptable)."""
    errors: dict[str, str] = {}
    if not form.get("name", "").strip():
        errors["name"] = "Enter the name on the card."
    email = form.get("email", "").strip()
    if email and "@" not in email:
        errors["email"] = "Enter an email address in the correct format, like name@example.com."
    check_card_fields(form, errors)
    return errors


def _latin1(text: str | None) -> str:
    """The PDF's core font has Latin-1 only; anything else prints as ?."""
    return (text or "").encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(invoice: Obj, lines: list[Obj]) -> bytes:
    """A one-page PDF of the invoice: who from and to, number, dates, custom fields, lines and
    totals, the footer. Enough for a finance team's records in tests; Stripe's is richer."""
    money = lambda amount: format_money(amount, invoice["currency"]).replace("£", "GBP ")  # noqa: E731
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice['number']}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Invoice {invoice['number']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    issued = time.strftime("%d %B %Y", time.gmtime(invoice["effective_at"] or invoice["created"]))
    due = time.strftime("%d %B %Y", time.gmtime(invoice["due_date"])) if invoice["due_date"] else "-"
    facts = [f"From: {invoice['account_name']}", f"Billed to: {invoice['customer_name'] or ''}",
             f"Email: {invoice['customer_email'] or ''}", f"Date of issue: {issued}", f"Date due: {due}"]
    address = invoice.get("customer_address") or {}
    facts.insert(2, "Address: " + ", ".join(str(address[k]) for k in ("line1", "line2", "city", "postal_code",
                                                                          "country") if address.get(k)))
    facts += [f"{field['name']}: {field['value']}" for field in invoice.get("custom_fields") or []]
    for fact in facts:
        pdf.multi_cell(0, 6, _latin1(fact), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for line in lines:
        pdf.multi_cell(0, 6, _latin1(f"{line['description']}  x{line['quantity']}  {money(line['amount'])}"),
                       new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, _latin1(f"Total: {money(invoice['total'])}   Amount due: {money(invoice['amount_remaining'])}"),
             new_x="LMARGIN", new_y="NEXT")
    if invoice.get("footer"):
        pdf.set_font("Helvetica", "", 9)
        pdf.ln(4)
        pdf.multi_cell(0, 5, _latin1(invoice["footer"]), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
