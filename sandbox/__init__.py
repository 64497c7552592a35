"""A Stripe-compatible sandbox server for tests and offline development.

The real stripe-python SDK talks to it over HTTP on loopback::

    with SandboxServer(webhook_url=..., webhook_secret="whsec_test") as sandbox:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url})

Routes: ``/v1/...`` (Stripe API subset: checkout sessions, payment intents, charges,
refunds, shipping rates, events), ``/pay/<session id>`` (hosted payment page) and
``/_sandbox/...`` (control API for tests; see ``app.py``).
"""

from .server import SandboxServer
from .signing import sign_payload

__all__ = ["SandboxServer", "sign_payload"]
