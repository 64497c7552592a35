"""Webhook signatures in Stripe's ``Stripe-Signature`` scheme (v1, HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import time


def sign_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """Return a ``Stripe-Signature`` header value for ``payload``.

    The value is ``t=<ts>,v1=<hex>`` where ``hex`` is HMAC-SHA256 keyed with the whole
    ``secret`` (``whsec_...`` included, as Stripe does) over ``f"{ts}.{payload}"``, so
    ``stripe.Webhook.construct_event(payload, header, secret)`` accepts it. ``timestamp``
    defaults to now; pass an old one to exercise the receiver's tolerance check.
    """
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode("utf-8"), f"{ts}.{text}".encode(), hashlib.sha256)
    return f"t={ts},v1={digest.hexdigest()}"
