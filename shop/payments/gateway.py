"""The only module that talks to Stripe.

It takes plain values (a ``CheckoutRequest``, ids, amounts in pence) and turns Stripe's answers
into plain dataclasses, so the rest of the shop never handles Stripe objects or exceptions.

Every request speaks ``API_VERSION``, the version the pinned stripe-python was generated for.
Webhook events may arrive in another (an endpoint's version defaults to the account's), so an
event is read for its ids only; what it is about is asked of Stripe.
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast, get_args

import stripe
from flask import Flask, current_app
from stripe._requestor_options import BaseAddresses  # the type of base_addresses
from stripe.params import WebhookEndpointCreateParams, WebhookEndpointUpdateParams
from stripe.params.checkout import SessionCreateParams

from shop.errors import PaymentGatewayError, ShopError, UnknownCheckout
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

TRY_AGAIN = "We could not reach our payment provider. Your basket is safe: please try again in a minute."
#: The API version of every request, and of the webhook endpoint ``stripe webhook-setup`` makes.
API_VERSION: str = stripe.api_version

# What Stripe's view of a Checkout Session means for its order (``CheckoutPayment.outcome``).
OPEN, PAID, PROCESSING, FAILED, EXPIRED = "open", "paid", "processing", "failed", "expired"
# PaymentIntent statuses of a delayed payment that failed: nothing will be collected.
_FAILED_INTENT = frozenset({"requires_payment_method", "canceled"})


def _literal_values(annotation: Any) -> frozenset[str]:
    """The strings of the Literal inside an SDK annotation such as
    ``NotRequired[List[Union[Literal[...], str]]]``."""
    found: set[str] = set()
    for arg in get_args(annotation):
        found |= {arg} if isinstance(arg, str) else _literal_values(arg)
    return frozenset(found)


#: Payment method types a Checkout Session may be restricted to, as the pinned SDK knows them.
PAYMENT_METHOD_TYPES = _literal_values(SessionCreateParams.__annotations__["allowed_payment_method_types"])


def init_app(app: Flask) -> None:
    """Refuse to start with a ``STRIPE_PAYMENT_METHODS`` entry Stripe does not know (a typo
    would otherwise fail every checkout)."""
    unknown = [name for name in app.config.get("STRIPE_PAYMENT_METHODS") or () if name not in PAYMENT_METHOD_TYPES]
    if unknown:
        raise RuntimeError(
            f"STRIPE_PAYMENT_METHODS names payment methods Stripe does not know: {', '.join(unknown)} "
            "(use Stripe's names, such as card,bacs_debit)"
        )


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
    # Offered only these (Stripe's names); empty: whatever the Stripe dashboard turns on.
    payment_methods: tuple[str, ...] = ()


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
    payment_intent_status: str | None = None  # processing | succeeded | requires_payment_method | …
    customer_email: str | None = None
    customer_name: str | None = None
    shipping: dict[str, str | None] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """``open`` (not finished), ``expired``, ``paid`` (or nothing to pay), ``processing``
        (finished with a method that takes days to clear: ``payment_status`` stays unpaid until
        it does) or ``failed`` (such a payment did not go through)."""
        if self.status == "expired":
            return EXPIRED
        if self.status != "complete":
            return OPEN
        if self.payment_status in ("paid", "no_payment_required"):
            return PAID
        if self.payment_intent_status in _FAILED_INTENT:
            return FAILED
        return PROCESSING

    @property
    def is_paid(self) -> bool:
        return self.outcome == PAID


@dataclass(frozen=True)
class RefundInfo:
    id: str
    amount: int  # pence
    currency: str
    status: str  # succeeded | pending | failed | canceled | requires_action
    reason: str | None = None
    refunded_by: str | None = None  # who pressed Refund at the desk (the refund's metadata)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event, read for its ids only: its payload is in whatever API version the
    endpoint has, so what it is about is asked of Stripe."""

    id: str
    type: str
    api_version: str | None = None
    object_type: str | None = None  # checkout.session, charge, refund, …
    object_id: str | None = None
    payment_intent_id: str | None = None  # set for charge.* and refund.* events

    @property
    def session_id(self) -> str | None:
        return self.object_id if self.object_type == "checkout.session" else None


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    api_version: str | None  # None: the account's default
    enabled_events: tuple[str, ...]
    status: str  # enabled | disabled
    secret: str | None = None  # only in the answer to its creation


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
    """A session as ``API_VERSION`` renders it, its payment intent expanded."""
    details = session.get("customer_details") or {}
    collected = session.get("collected_information") or {}
    shipping = collected.get("shipping_details") or {}
    address = shipping.get("address") or {}
    intent: Any = session.get("payment_intent")
    intent_status = None
    if isinstance(intent, dict):  # expanded
        intent, intent_status = intent.get("id"), intent.get("status")
    return CheckoutPayment(
        session_id=session["id"],
        status=session.get("status") or "",
        payment_status=session.get("payment_status") or "",
        amount_total=session.get("amount_total"),
        currency=session.get("currency"),
        payment_intent_id=intent,
        payment_intent_status=intent_status,
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
    params: SessionCreateParams = {
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
    if request.payment_methods:
        # A filter on the methods the dashboard turns on (stripe-python 16.1.0 has no
        # payment_method_types for sessions any more; see the README).
        params["allowed_payment_method_types"] = list(request.payment_methods)
    return params


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
        session = _client().v1.checkout.sessions.retrieve(
            session_id, params={"expand": ["payment_intent"]}
        )
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
            params={
                "created": {"gte": int(since.timestamp())},
                "status": "complete",
                "limit": 100,
                "expand": ["data.payment_intent"],
            }
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
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise InvalidWebhook("Webhook refused: its data is not an object.")
    if _holds_nul(event):
        # A NUL cannot be stored (PostgreSQL text) and no Stripe value holds one.
        raise InvalidWebhook("Webhook refused: it contains a NUL character.")
    kind = obj.get("object")
    intent = obj.get("payment_intent") if kind in ("charge", "refund") else None
    return WebhookEvent(
        id=event["id"],
        type=str(event.get("type")),
        api_version=_text(event.get("api_version")),
        object_type=_text(kind),
        object_id=_text(obj.get("id")) if kind else None,
        payment_intent_id=_text(intent.get("id") if isinstance(intent, dict) else intent),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# The refund metadata key naming who pressed Refund at the desk: whichever reaches the shop
# first, Stripe's event or the desk's answer, credits the refund to them.
REFUNDED_BY = "refunded_by"


def _as_refund(refund: dict[str, Any]) -> RefundInfo:
    metadata = refund.get("metadata") or {}
    return RefundInfo(
        id=refund["id"],
        amount=refund["amount"],
        currency=refund.get("currency") or "",
        status=refund.get("status") or "",
        reason=refund.get("reason"),
        refunded_by=metadata.get(REFUNDED_BY) or None,
    )


def create_refund(
    payment_intent_id: str, amount_pence: int, idempotency_key: str, refunded_by: str, order_reference: str
) -> RefundInfo:
    """Refund part or all of a payment, recording in Stripe who asked and for which order.
    ``PaymentGatewayError`` carries Stripe's own message when Stripe refuses (too large,
    already refunded), ours when it cannot be reached."""
    try:
        refund = _client().v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount_pence,
                "metadata": {REFUNDED_BY: refunded_by, "order_reference": order_reference},
            },
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


def payment_order_reference(payment_intent_id: str) -> str | None:
    """The shop's order reference a payment carries in its metadata (set at checkout), or None
    for a payment this shop did not take (another sale on the same Stripe account)."""
    try:
        intent = _client().v1.payment_intents.retrieve(payment_intent_id)
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing" or error.http_status == 404:
            return None
        raise PaymentGatewayError(_message_for(error)) from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error
    metadata = intent.to_dict().get("metadata") or {}
    reference = metadata.get("order_reference")
    return reference if isinstance(reference, str) and reference else None


def _as_endpoint(endpoint: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=endpoint["id"],
        url=endpoint.get("url") or "",
        api_version=endpoint.get("api_version"),
        enabled_events=tuple(endpoint.get("enabled_events") or ()),
        status=endpoint.get("status") or "",
        secret=endpoint.get("secret"),
    )


def webhook_endpoints() -> list[WebhookEndpoint]:
    """Every webhook endpoint of the account, oldest first."""
    try:
        page = _client().v1.webhook_endpoints.list(params={"limit": 100})
        found = [_as_endpoint(endpoint.to_dict()) for endpoint in page.auto_paging_iter()]
    except stripe.StripeError as error:
        raise PaymentGatewayError(_admin_message(error)) from error
    return found[::-1]


def create_webhook_endpoint(url: str, events: tuple[str, ...], description: str) -> WebhookEndpoint:
    """A new endpoint in ``API_VERSION`` for exactly ``events``; the answer carries its secret."""
    params: WebhookEndpointCreateParams = {
        "url": url,
        # Plain strings, where the SDK types its enums: tests check these against them.
        "enabled_events": cast(Any, list(events)),
        "api_version": cast(Any, API_VERSION),
        "description": description,
    }
    try:
        endpoint = _client().v1.webhook_endpoints.create(params=params)
    except stripe.StripeError as error:
        raise PaymentGatewayError(_admin_message(error)) from error
    return _as_endpoint(endpoint.to_dict())


def update_webhook_endpoint(endpoint_id: str, events: tuple[str, ...], description: str) -> WebhookEndpoint:
    """Subscribe an endpoint to exactly ``events`` and enable it. (Its API version cannot be
    changed: Stripe offers no parameter for that.)"""
    params: WebhookEndpointUpdateParams = {
        "enabled_events": cast(Any, list(events)),  # as in create
        "description": description,
        "disabled": False,
    }
    try:
        endpoint = _client().v1.webhook_endpoints.update(endpoint_id, params=params)
    except stripe.StripeError as error:
        raise PaymentGatewayError(_admin_message(error)) from error
    return _as_endpoint(endpoint.to_dict())


def _admin_message(error: stripe.StripeError) -> str:
    """For an operator at the command line: Stripe's own words."""
    return f"Stripe refused: {error.user_message or error}" if error.http_status else str(error)


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
