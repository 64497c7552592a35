"""The only module that talks to Stripe.

It takes plain values (a ``CheckoutRequest``, ids, amounts in pence) and turns Stripe's answers
into plain dataclasses, so the rest of the shop never handles Stripe objects or exceptions.
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import stripe
from flask import current_app
from stripe._requestor_options import BaseAddresses  # the type of base_addresses
from stripe.params.checkout import SessionCreateParams

from shop.errors import PaymentGatewayError, ShopError, UnknownCheckout
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

TRY_AGAIN = "We could not reach our payment provider. Your basket is safe: please try again in a minute."


class InvalidWebhook(ShopError):
    """A webhook whose signature is missing, wrong or stale."""


@dataclass(frozen=True)
class CheckoutUrls:
    success: str  # must contain {CHECKOUT_SESSION_ID}
    cancel: str


@dataclass(frozen=True)
class CheckoutLine:
    name: str  # the title as the buyer sees it
    isbn: str
    unit_amount: int  # pence
    quantity: int


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything a Checkout Session is made from; every amount in pence, from the order."""

    order_id: int
    reference: str
    currency: str
    lines: tuple[CheckoutLine, ...]
    shipping_label: str
    shipping_amount: int
    allowed_countries: tuple[str, ...]
    idempotency_key: str  # stable for one order: a retried create opens no second session
    expires_in_minutes: int
    urls: CheckoutUrls


@dataclass(frozen=True)
class StartedCheckout:
    session_id: str
    url: str


@dataclass(frozen=True)
class CheckoutPayment:
    """What Stripe says about one Checkout Session (amounts in minor units)."""

    session_id: str
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str | None
    payment_intent_id: str | None = None
    customer_email: str | None = None
    customer_name: str | None = None
    shipping: dict[str, str | None] = field(default_factory=dict)

    @property
    def is_paid(self) -> bool:
        return self.status == "complete" and self.payment_status == "paid"


@dataclass(frozen=True)
class RefundInfo:
    id: str
    amount: int  # pence
    currency: str
    status: str  # succeeded | pending | failed | canceled | requires_action
    reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    payment: CheckoutPayment | None = None  # set for checkout.session.* events
    payment_intent_id: str | None = None  # set for charge.* and refund.* events


def _client() -> stripe.StripeClient:
    """One client per app: it keeps the HTTP connection pool warm between requests."""
    client = current_app.extensions.get("stripe_client")
    if client is None:
        config = current_app.config
        if not config.get("STRIPE_SECRET_KEY"):
            raise PaymentGatewayError("Card payments are not configured on this shop yet.")
        base: BaseAddresses | None = (
            {"api": config["STRIPE_API_BASE"]} if config.get("STRIPE_API_BASE") else None
        )
        client = stripe.StripeClient(
            config["STRIPE_SECRET_KEY"],
            base_addresses=base,
            max_network_retries=config["STRIPE_MAX_RETRIES"],
            http_client=stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT_SECONDS"]),
        )
        current_app.extensions["stripe_client"] = client
    return client


def _as_payment(session: dict[str, Any]) -> CheckoutPayment:
    details = session.get("customer_details") or {}
    collected = session.get("collected_information") or {}
    shipping = collected.get("shipping_details") or {}
    address = shipping.get("address") or {}
    intent = session.get("payment_intent")
    if isinstance(intent, dict):  # expanded
        intent = intent.get("id")
    return CheckoutPayment(
        session_id=session["id"],
        status=session.get("status") or "",
        payment_status=session.get("payment_status") or "",
        amount_total=session.get("amount_total"),
        currency=session.get("currency"),
        payment_intent_id=intent,
        customer_email=details.get("email") or session.get("customer_email"),
        customer_name=details.get("name"),
        shipping={
            "name": shipping.get("name"),
            "line1": address.get("line1"),
            "line2": address.get("line2"),
            "city": address.get("city"),
            "state": address.get("state"),
            "postal_code": address.get("postal_code"),
            "country": address.get("country"),
        },
    )


def session_params(request: CheckoutRequest) -> SessionCreateParams:
    """The Checkout Session request: every amount from the order, in pence."""
    # Stripe wants at least 30 minutes from when it creates the session; a minute's margin
    # covers the request's travel time and an SDK retry.
    expires = utcnow() + timedelta(minutes=request.expires_in_minutes, seconds=60)
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": line.quantity,
                "price_data": {
                    "currency": request.currency,
                    "unit_amount": line.unit_amount,
                    "product_data": {
                        "name": line.name,
                        "description": f"Print copy, ISBN {line.isbn}",
                        "metadata": {"isbn": line.isbn},
                    },
                },
            }
            for line in request.lines
        ],
        "shipping_options": [
            {
                "shipping_rate_data": {
                    "type": "fixed_amount",
                    "display_name": request.shipping_label,
                    "fixed_amount": {"amount": request.shipping_amount, "currency": request.currency},
                }
            }
        ],
        "shipping_address_collection": {"allowed_countries": list(request.allowed_countries)},
        "client_reference_id": request.reference,
        "metadata": {"order_id": str(request.order_id), "order_reference": request.reference},
        "payment_intent_data": {"metadata": {"order_reference": request.reference}},
        "expires_at": int(expires.timestamp()),
        "success_url": request.urls.success,
        "cancel_url": request.urls.cancel,
    }


def create_session(request: CheckoutRequest) -> StartedCheckout:
    """Open a Checkout Session; raises ``PaymentGatewayError`` with a message for the buyer."""
    try:
        session = _client().v1.checkout.sessions.create(
            params=session_params(request),
            options={"idempotency_key": request.idempotency_key},
        )
    except stripe.StripeError as error:
        log.warning("Stripe refused a checkout session for %s: %s", request.reference, error)
        raise PaymentGatewayError(_message_for(error)) from error
    if not session.url:  # a hosted-page session always has one
        raise PaymentGatewayError(TRY_AGAIN)
    return StartedCheckout(session_id=session.id, url=session.url)


def retrieve_session(session_id: str) -> CheckoutPayment:
    """Stripe's current view of a session; ``UnknownCheckout`` when Stripe has no such session."""
    try:
        session = _client().v1.checkout.sessions.retrieve(session_id)
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing" or error.http_status == 404:
            raise UnknownCheckout("We have no checkout with that reference.") from error
        raise PaymentGatewayError(_message_for(error)) from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error
    return _as_payment(session.to_dict())


def completed_sessions(since: datetime) -> Iterator[CheckoutPayment]:
    """Every Checkout Session completed since ``since``, newest first, through Stripe's paged list."""
    try:
        page = _client().v1.checkout.sessions.list(
            params={"created": {"gte": int(since.timestamp())}, "status": "complete", "limit": 100}
        )
        for session in page.auto_paging_iter():
            yield _as_payment(session.to_dict())
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error


def expire_session(session_id: str) -> CheckoutPayment:
    """Close an open session so it can no longer be paid; returns Stripe's view either way."""
    try:
        session = _client().v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError:
        return retrieve_session(session_id)  # already complete or expired: report what it is
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error
    return _as_payment(session.to_dict())


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def verify_event(payload: bytes, signature: str | None) -> WebhookEvent:
    """Check the ``Stripe-Signature`` header against our secret and parse the event."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set; refusing unverifiable webhooks.")
    if not signature:
        raise InvalidWebhook("Missing Stripe-Signature header.")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidWebhook(f"Webhook refused: {error}") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("Webhook refused: not an event.")
    # Signed, yet not the shape Stripe sends: a 400 says so, where a 500 would bring it back.
    data = event.get("data") or {}
    obj = (data.get("object") or {}) if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise InvalidWebhook("Webhook refused: its data is not an object.")
    if _holds_nul(event):
        # A NUL cannot be stored (PostgreSQL text) and no Stripe value holds one.
        raise InvalidWebhook("Webhook refused: it contains a NUL character.")
    kind = obj.get("object")
    try:
        return WebhookEvent(
            id=event["id"],
            type=str(event.get("type")),
            payment=_as_payment(obj) if kind == "checkout.session" else None,
            payment_intent_id=obj.get("payment_intent") if kind in ("charge", "refund") else None,
        )
    except (KeyError, AttributeError, TypeError):
        raise InvalidWebhook("Webhook refused: its object is not what Stripe sends.") from None


def _as_refund(refund: dict[str, Any]) -> RefundInfo:
    return RefundInfo(
        id=refund["id"],
        amount=refund["amount"],
        currency=refund.get("currency") or "",
        status=refund.get("status") or "",
        reason=refund.get("reason"),
    )


def create_refund(payment_intent_id: str, amount_pence: int, idempotency_key: str) -> RefundInfo:
    """Refund part or all of a payment. ``PaymentGatewayError`` carries Stripe's own message
    when Stripe refuses (too large, already refunded), ours when it cannot be reached."""
    try:
        refund = _client().v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": amount_pence},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.InvalidRequestError as error:
        raise PaymentGatewayError(f"Stripe refused the refund: {error.user_message or error}") from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error
    return _as_refund(refund.to_dict())


def list_refunds(payment_intent_id: str) -> list[RefundInfo]:
    """Every refund of a payment, wherever it was made (here or in Stripe's dashboard)."""
    try:
        page = _client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
        return [_as_refund(refund.to_dict()) for refund in page.auto_paging_iter()]
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error


def dashboard_url(payment_intent_id: str) -> str:
    """Where staff see this payment in Stripe's dashboard (test mode has its own path)."""
    key = current_app.config.get("STRIPE_SECRET_KEY") or ""
    mode = "" if key.startswith(("sk_live_", "rk_live_")) else "test/"
    return f"https://dashboard.stripe.com/{mode}payments/{payment_intent_id}"


def _message_for(error: stripe.StripeError) -> str:
    """A message for the customer: Stripe's own for a refusal, ours for an outage."""
    if isinstance(error, (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)):
        return TRY_AGAIN
    if isinstance(error, stripe.AuthenticationError):
        return "Card payments are misconfigured on this shop; please tell us and try later."
    return error.user_message or TRY_AGAIN
