"""A Stripe-compatible sandbox server for tests and offline development.

The real stripe-python SDK talks to it over HTTP on loopback::

    with SandboxServer(webhook_url=..., webhook_secret="whsec_test") as sandbox:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url})

Routes: ``/v1/...`` (Stripe API subset: checkout sessions, payment intents, charges,
refunds, shipping rates, events, webhook endpoints; customers, invoice items, invoices, coupons
and promotion codes: ``billing``), ``/pay/<session id>`` (hosted payment page: card or Bacs
Direct Debit, and a promotion code where the session allows one), ``/invoice/<token>`` (an
invoice's hosted page and PDF: card, or bank transfer details) and ``/_sandbox/...`` (control
API for tests; see ``app.py`` and ``billing_app.py``).

As strict as Stripe where the shop could go wrong: every ``/v1`` request is checked against the
pinned stripe-python's parameter types (``conformance``) and Stripe's limits (``params``);
answers and webhook events are rendered in the API version asked for (``versions``); bank
debits stay processing and refunds pending until they settle; idempotency keys replay whatever
the first request got, 500s included.
"""

from .server import SandboxServer
from .signing import sign_payload

__all__ = ["SandboxServer", "sign_payload"]
