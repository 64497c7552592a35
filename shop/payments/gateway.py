"""The only module that talks to Stripe.

It takes plain values (a ``CheckoutRequest``, ids, amounts in pence) and turns Stripe's answers
into plain dataclasses, so the rest of the shop never handles Stripe objects or exceptions.

Every request speaks ``API_VERSION``, the version the pinned stripe-python was generated for.
Webhook events may arrive in another (an endpoint's version defaults to the account's), so an
event is read for its ids only; what it is about is asked of Stripe.
"""

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast, get_args

import stripe
from flask import Flask, current_app
from stripe._requestor_options import BaseAddresses  # the type of base_addresses
from stripe.params import (
    InvoiceCreateParams,
    InvoiceItemCreateParams,
    WebhookEndpointCreateParams,
    WebhookEndpointUpdateParams,
)
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

# Items per page of a Stripe list (its maximum); stripe-python fetches the next pages itself.
LIST_PAGE_SIZE = 100


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
    # Let the buyer enter a promotion code made in Stripe's dashboard (one a session).
    allow_promotion_codes: bool = False


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
    # What a promotion code took off (total_details.amount_discount), and the code as typed.
    amount_discount: int = 0
    promotion_code: str | None = None

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
    object_type: str | None = None  # checkout.session, charge, refund, invoice, …
    object_id: str | None = None
    payment_intent_id: str | None = None  # set for charge.* and refund.* events
    order_reference: str | None = None  # an invoice's metadata (invoice.* events)

    @property
    def session_id(self) -> str | None:
        return self.object_id if self.object_type == "checkout.session" else None

    @property
    def invoice_id(self) -> str | None:
        return self.object_id if self.object_type == "invoice" else None


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
    codes = [
        discount["promotion_code"].get("code")
        for discount in session.get("discounts") or []
        if isinstance(discount, dict) and isinstance(discount.get("promotion_code"), dict)  # expanded
    ]
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
        amount_discount=int((session.get("total_details") or {}).get("amount_discount") or 0),
        promotion_code=next((code for code in codes if code), None),
    )


# Expanded on every session the shop reads: its payment's state, and the promotion code's text.
SESSION_EXPAND = ["payment_intent", "discounts.promotion_code"]


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
    if request.allow_promotion_codes:
        params["allow_promotion_codes"] = True
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
        session = _client().v1.checkout.sessions.retrieve(session_id, params={"expand": SESSION_EXPAND})
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
                "limit": LIST_PAGE_SIZE,
                "expand": [f"data.{path}" for path in SESSION_EXPAND],
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
    metadata = obj.get("metadata") if kind == "invoice" else None
    return WebhookEvent(
        id=event["id"],
        type=str(event.get("type")),
        api_version=_text(event.get("api_version")),
        object_type=_text(kind),
        object_id=_text(obj.get("id")) if kind else None,
        payment_intent_id=_text(intent.get("id") if isinstance(intent, dict) else intent),
        order_reference=_text(metadata.get("order_reference")) if isinstance(metadata, dict) else None,
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
        page = _client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": LIST_PAGE_SIZE})
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
        page = _client().v1.webhook_endpoints.list(params={"limit": LIST_PAGE_SIZE})
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


# --- Invoices (organisations pay by invoice: shop.orders.invoicing) ---------------------------

INVOICE_EXPAND = ["payments.data.payment.payment_intent", "amount_paid_off_stripe"]
# Stripe's invoice custom fields: at most 4, names up to 40 characters, values up to 140.
MAX_CUSTOM_FIELDS, MAX_CUSTOM_FIELD_NAME, MAX_CUSTOM_FIELD_VALUE = 4, 40, 140
# The key each invoice item carries in its metadata, so a retried issue adds only the missing.
LINE_KEY = "order_line"


@dataclass(frozen=True)
class PostalAddress:
    line1: str
    line2: str | None
    city: str
    postal_code: str | None
    country: str  # ISO 3166-1 alpha-2

    def as_params(self) -> dict[str, str]:
        values = {"line1": self.line1, "line2": self.line2, "city": self.city,
                  "postal_code": self.postal_code, "country": self.country}
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class InvoiceCustomer:
    """The organisation billed: found again at Stripe by ``email`` (its finance address)."""

    email: str
    name: str
    address: PostalAddress


@dataclass(frozen=True)
class InvoiceLine:
    key: str  # unique within the invoice (its metadata), e.g. "line-12" or "postage"
    description: str
    quantity: int
    unit_amount: int  # pence


@dataclass(frozen=True)
class InvoiceRequest:
    """Everything an invoice is made from; every amount in pence, from the order."""

    order_id: int
    reference: str
    customer_id: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    days_until_due: int
    custom_fields: tuple[tuple[str, str], ...]  # (name, value): the PO number, the order reference
    footer: str
    shipping_name: str
    shipping_address: PostalAddress
    idempotency_key: str  # stable for one order: each step's key starts with it


@dataclass(frozen=True)
class InvoiceInfo:
    """What Stripe says about one invoice (amounts in pence, times in UTC)."""

    id: str
    status: str  # draft | open | paid | uncollectible | void
    customer_id: str | None
    number: str | None
    hosted_url: str | None
    pdf_url: str | None
    currency: str
    total: int
    amount_paid: int
    amount_remaining: int
    due_at: datetime | None
    finalized_at: datetime | None
    paid_at: datetime | None
    order_reference: str | None  # its metadata
    payment_intent_id: str | None = None  # the payment through Stripe that paid it, if any
    paid_off_stripe: int = 0  # paid outside Stripe (a cheque), marked paid out of band


def _moment(timestamp: Any) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if isinstance(timestamp, int) else None


def _as_invoice(invoice: dict[str, Any]) -> InvoiceInfo:
    transitions = invoice.get("status_transitions") or {}
    intent_id = None
    payments = invoice.get("payments")
    for entry in (payments or {}).get("data") or []:
        if entry.get("status") != "paid":
            continue
        intent = (entry.get("payment") or {}).get("payment_intent")
        if isinstance(intent, dict):  # expanded
            intent_id = intent.get("id")
        elif isinstance(intent, str):
            intent_id = intent
    customer = invoice.get("customer")
    return InvoiceInfo(
        id=invoice["id"],
        status=invoice.get("status") or "",
        customer_id=customer.get("id") if isinstance(customer, dict) else customer,
        number=invoice.get("number"),
        hosted_url=invoice.get("hosted_invoice_url"),
        pdf_url=invoice.get("invoice_pdf"),
        currency=invoice.get("currency") or "",
        total=int(invoice.get("total") or 0),
        amount_paid=int(invoice.get("amount_paid") or 0),
        amount_remaining=int(invoice.get("amount_remaining") or 0),
        due_at=_moment(invoice.get("due_date")),
        finalized_at=_moment(transitions.get("finalized_at")),
        paid_at=_moment(transitions.get("paid_at")),
        order_reference=(invoice.get("metadata") or {}).get("order_reference"),
        payment_intent_id=intent_id,
        paid_off_stripe=int(invoice.get("amount_paid_off_stripe") or 0),
    )


def _invoice_call(action: str, call: Any) -> Any:
    """One request about invoices; ``PaymentGatewayError`` with Stripe's words for a refusal
    (staff and logs read them), ours for an outage."""
    try:
        return call()
    except stripe.InvalidRequestError as error:
        raise PaymentGatewayError(f"Stripe refused to {action}: {error.user_message or error}") from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error


def find_or_create_customer(customer: InvoiceCustomer, attempt: int = 0) -> str:
    """The Stripe Customer of an organisation: found by its finance email (lower case, as the
    shop writes it: Stripe's email filter is case-sensitive) and its name, else created, never
    twice: the create is keyed by both (and the issuing ``attempt``, as Stripe keeps a failure
    under its key), so two orders creating it at once get one customer. By both, because many
    NHS trusts share one accounts payable mailbox: each stays a customer of its own, its name
    never rewritten by another's order. Its billing address is brought up to date (what the
    next invoice shows; invoices already finalized keep theirs). Returns the customer's id."""
    email = customer.email.strip().lower()
    name = " ".join(customer.name.split())
    client = _client()
    page = _invoice_call("find the customer", lambda: client.v1.customers.list(params={"email": email, "limit": LIST_PAGE_SIZE}))
    found = next((candidate for candidate in page.auto_paging_iter()
                  if " ".join((candidate.to_dict().get("name") or "").split()).casefold() == name.casefold()), None)
    address = customer.address.as_params()
    if found is None:
        digest = hashlib.sha256(f"{email}\n{name.casefold()}".encode()).hexdigest()[:40]
        found = _invoice_call("create the customer", lambda: client.v1.customers.create(
            # Only what the key stands for: two orders creating it at once send the same.
            params={"email": email, "name": name, "metadata": {"created_by": "print shop"}},
            options={"idempotency_key": f"customer-{digest}-{attempt}"},
        ))
    current = found.to_dict()
    if {k: v for k, v in (current.get("address") or {}).items() if v} != address:
        _invoice_call("update the customer", lambda: client.v1.customers.update(
            found.id, params={"address": cast(Any, address)}
        ))
    return found.id


def find_draft_invoice(customer_id: str, order_reference: str) -> InvoiceInfo | None:
    """A draft invoice an earlier attempt made for this order whose answer never came back (a
    timeout after Stripe had made it): found by the order's reference in its metadata."""
    client = _client()
    page = _invoice_call("look for the draft invoice", lambda: client.v1.invoices.list(
        params={"customer": customer_id, "status": "draft", "limit": LIST_PAGE_SIZE}
    ))
    for invoice in page.auto_paging_iter():
        found = invoice.to_dict()
        if (found.get("metadata") or {}).get("order_reference") == order_reference:
            return _as_invoice(found)
    return None


def create_invoice_draft(request: InvoiceRequest) -> InvoiceInfo:
    """A draft invoice, sent by email and due ``days_until_due`` days after it is made, with the
    custom fields (the PO number first), the order's reference in its metadata, the delivery
    address, and no discount inherited from the customer. ``auto_advance`` is off: the shop
    finalizes and sends it itself (``finalize_invoice``, ``send_invoice``), so a draft made
    for an order that then goes wrong is never sent by Stripe on its own."""
    params: InvoiceCreateParams = {
        "customer": request.customer_id,
        "collection_method": "send_invoice",
        "days_until_due": request.days_until_due,
        "currency": request.currency,
        "auto_advance": False,
        "pending_invoice_items_behavior": "exclude",  # only the items made for this invoice
        # By card on Stripe's page, or by bank transfer to the customer's own virtual account
        # (customer balance), which Stripe matches to the invoice by itself.
        "payment_settings": {
            "payment_method_types": ["card", "customer_balance"],
            "payment_method_options": {
                "customer_balance": {"funding_type": "bank_transfer", "bank_transfer": {"type": "gb_bank_transfer"}},
            },
        },
        "discounts": "",
        "custom_fields": [
            {"name": name[:MAX_CUSTOM_FIELD_NAME], "value": value[:MAX_CUSTOM_FIELD_VALUE]}
            for name, value in request.custom_fields[:MAX_CUSTOM_FIELDS]
        ],
        "metadata": {"order_id": str(request.order_id), "order_reference": request.reference},
        "footer": request.footer,
        "shipping_details": {
            "name": request.shipping_name,
            "address": cast(Any, request.shipping_address.as_params()),
        },
    }
    client = _client()
    invoice = _invoice_call("create the invoice", lambda: client.v1.invoices.create(
        params=params, options={"idempotency_key": f"{request.idempotency_key}-create"}
    ))
    return _as_invoice(invoice.to_dict())


def invoice_line_keys(invoice_id: str) -> set[str]:
    """The keys (metadata) of the lines an invoice already has."""
    client = _client()
    page = _invoice_call("list the invoice's lines", lambda: client.v1.invoices.line_items.list(
        invoice_id, params={"limit": LIST_PAGE_SIZE}
    ))
    keys = ((line.to_dict().get("metadata") or {}).get(LINE_KEY) for line in page.auto_paging_iter())
    return {key for key in keys if isinstance(key, str)}


def add_invoice_lines(invoice_id: str, request: InvoiceRequest, present: set[str]) -> None:
    """An invoice item on the draft for each line not ``present`` yet, each keyed so that a
    retry makes none twice."""
    client = _client()
    for line in request.lines:
        if line.key in present:
            continue
        params: InvoiceItemCreateParams = {
            "customer": request.customer_id,
            "invoice": invoice_id,
            "currency": request.currency,
            "description": line.description,
            "quantity": line.quantity,
            "unit_amount_decimal": Decimal(line.unit_amount),
            "metadata": {LINE_KEY: line.key, "order_reference": request.reference},
        }
        _invoice_call("add a line to the invoice", lambda params=params, line=line: client.v1.invoice_items.create(
            params=params, options={"idempotency_key": f"{request.idempotency_key}-item-{line.key}"}
        ))


def finalize_invoice(invoice_id: str, idempotency_key: str) -> InvoiceInfo:
    """Draft to open: Stripe gives it its number, hosted page and PDF. An invoice finalized
    already (a retry after the key lapsed) is reported as it is."""
    client = _client()
    try:
        invoice = client.v1.invoices.finalize_invoice(
            invoice_id, params={"auto_advance": False, "expand": INVOICE_EXPAND},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.InvalidRequestError as error:
        current = retrieve_invoice(invoice_id)
        if current.status != "draft":
            return current
        raise PaymentGatewayError(f"Stripe refused to finalize the invoice: {error.user_message or error}") from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error
    return _as_invoice(invoice.to_dict())


def send_invoice(invoice_id: str, idempotency_key: str) -> InvoiceInfo:
    """Stripe emails the invoice, with its payment page, to the customer (again, if it was
    sent before)."""
    client = _client()
    invoice = _invoice_call("send the invoice", lambda: client.v1.invoices.send_invoice(
        invoice_id, params={"expand": INVOICE_EXPAND}, options={"idempotency_key": idempotency_key}
    ))
    return _as_invoice(invoice.to_dict())


def payment_method_used(payment_intent_id: str) -> str | None:
    """How a payment through Stripe was made: ``card``, ``customer_balance`` (a bank transfer),
    … from its charge's ``payment_method_details``. (A PaymentIntent's ``payment_method_types``
    lists what it allowed, not what was used; and an invoice's payment is already four levels
    deep, as far as ``expand`` goes, so this is a request of its own.)"""
    intent = _invoice_call("read the invoice's payment", lambda: _client().v1.payment_intents.retrieve(
        payment_intent_id, params={"expand": ["latest_charge"]}))
    charge = intent.to_dict().get("latest_charge")
    return (charge.get("payment_method_details") or {}).get("type") if isinstance(charge, dict) else None


def retrieve_invoice(invoice_id: str) -> InvoiceInfo:
    """Stripe's current view of an invoice, with what paid it."""
    client = _client()
    try:
        invoice = client.v1.invoices.retrieve(invoice_id, params={"expand": INVOICE_EXPAND})
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing" or error.http_status == 404:
            raise UnknownCheckout("Stripe has no such invoice.") from error
        raise PaymentGatewayError(_message_for(error)) from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error
    return _as_invoice(invoice.to_dict())


def void_invoice(invoice_id: str, idempotency_key: str) -> InvoiceInfo:
    client = _client()
    invoice = _invoice_call("void the invoice", lambda: client.v1.invoices.void_invoice(
        invoice_id, params={"expand": INVOICE_EXPAND}, options={"idempotency_key": idempotency_key}
    ))
    return _as_invoice(invoice.to_dict())


def pay_invoice_out_of_band(invoice_id: str, idempotency_key: str) -> InvoiceInfo:
    """Mark an invoice paid by money that did not come through Stripe (a cheque)."""
    client = _client()
    invoice = _invoice_call("mark the invoice paid", lambda: client.v1.invoices.pay(
        invoice_id, params={"paid_out_of_band": True, "expand": INVOICE_EXPAND},
        options={"idempotency_key": idempotency_key},
    ))
    return _as_invoice(invoice.to_dict())


def delete_draft_invoice(invoice_id: str) -> None:
    """Delete a draft invoice (only drafts can be; one already gone is fine)."""
    client = _client()
    try:
        client.v1.invoices.delete(invoice_id)
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing" or error.http_status == 404:
            return
        raise PaymentGatewayError(f"Stripe refused to delete the draft invoice: {error.user_message or error}") from error
    except stripe.StripeError as error:
        raise PaymentGatewayError(_message_for(error)) from error


def invoice_dashboard_url(invoice_id: str) -> str:
    """Where staff see this invoice in Stripe's dashboard."""
    key = current_app.config.get("STRIPE_SECRET_KEY") or ""
    mode = "" if key.startswith(("sk_live_", "rk_live_")) else "test/"
    return f"https://dashboard.stripe.com/{mode}invoices/{invoice_id}"
