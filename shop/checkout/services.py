"""Checkout: from a basket to a Stripe Checkout Session, and Stripe's answers back to orders."""

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shop.basket.services import PricedBasket
from shop.errors import CheckoutError, PaymentGatewayError, ShopError, UnknownCheckout
from shop.extensions import db
from shop.orders import invoicing
from shop.orders import services as orders
from shop.orders.fulfilment import fulfil_checkout
from shop.orders.holds import Holder
from shop.orders.models import Order, StripeEvent
from shop.orders.refunds import handle_refund_event
from shop.orders.status import CANCELLED, PENDING_PAYMENT
from shop.payments import gateway
from shop.payments.gateway import (
    CheckoutLine,
    CheckoutRequest,
    CheckoutUrls,
    StartedCheckout,
    WebhookEndpoint,
    WebhookEvent,
)
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

# The events the shop handles: the one list of them. `flask stripe webhook-setup` subscribes
# the endpoint to exactly these, and tests hold the README and its Stripe CLI recipe to it.
# A session event only says "ask Stripe about this session": the session is then retrieved, so
# which of them arrives, in which order or API version, does not matter.
SESSION_EVENTS = (
    "checkout.session.completed",  # paid, or (a bank debit) processing
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
# Refunds made anywhere (here or in Stripe's dashboard), and their later changes: a pending
# refund that succeeds or fails, a refund that fails after it succeeded.
REFUND_EVENTS = ("charge.refunded", "charge.refund.updated", "refund.updated", "refund.failed")
# Invoices organisations pay (orders.invoicing): an invoice event too only says "ask Stripe
# about this invoice". invoice.overdue comes only from a Stripe dashboard Automation (the
# README says how to set one up); reconciliation flags overdue invoices either way.
INVOICE_EVENTS = (
    "invoice.paid",  # by card or bank transfer through Stripe, or marked paid out of band
    "invoice.payment_failed",
    "invoice.overdue",
    "invoice.voided",
    "invoice.marked_uncollectible",
)
HANDLED_EVENTS = SESSION_EVENTS + REFUND_EVENTS + INVOICE_EVENTS
ENDPOINT_DESCRIPTION = "Print shop: checkout, refund and invoice events"


def place_order(
    basket: PricedBasket, reference_prefix: str, holder: Holder | None = None, hold_limit: int | None = None,
    card_maximum: int | None = None,
) -> Order:
    """Record the basket as a ``pending_payment`` order (prices from the database, copies of
    titles in stock reserved, pre-orders and back-orders as the basket offered them, the
    holder's unpaid copies capped at ``hold_limit`` per title); ``CheckoutError`` says why not,
    and nothing is kept. A line over ``card_maximum`` copies is for an invoice, not a card."""
    if basket.is_empty:
        raise CheckoutError("Your basket is empty.")
    if basket.problems:
        raise CheckoutError(" ".join(basket.problems))
    if card_maximum is not None and basket.card_problems(card_maximum):
        raise CheckoutError(
            " ".join(basket.card_problems(card_maximum)) + " Pay by invoice, or lower the quantity."
        )
    return orders.place_order(
        [(line.publication, line.quantity, line.offer) for line in basket.lines],
        basket.region.key,
        basket.postage_pence,
        reference_prefix,
        holder,
        hold_limit,
    )


def place_invoice_order(
    basket: PricedBasket,
    organisation: invoicing.Organisation,
    terms: invoicing.InvoiceTerms,
    limits: tuple[int, int],
    reference_prefix: str,
    request_token: str,
    holder: Holder | None = None,
    hold_limit: int | None = None,
) -> Order:
    """Record the basket as an order paid by invoice (``orders.invoicing``); ``CheckoutError``
    says why not, and nothing is kept: an empty basket, a line that cannot be ordered, one over
    the most copies an invoice takes, copies worth less than the minimum (``limits``: minimum
    pence, most copies), or a delivery country outside the basket's postage region."""
    if basket.is_empty:
        raise CheckoutError("Your basket is empty.")
    problems = basket.problems + basket.invoice_problems(*limits)
    if problems:
        raise CheckoutError(" ".join(problems))
    if organisation.delivery.country not in basket.region.countries:
        raise CheckoutError(
            f"Your basket's postage is for {basket.region.label}: choose a delivery country there, or "
            "change the region on your basket page."
        )
    return invoicing.place_invoice_order(
        [(line.publication, line.quantity, line.offer) for line in basket.lines],
        basket.region.key, basket.postage_pence, organisation, terms, reference_prefix, request_token,
        holder, hold_limit,
    )


def checkout_request(
    order: Order,
    urls: CheckoutUrls,
    basket: PricedBasket,
    expires_in_minutes: int,
    payment_methods: tuple[str, ...] = (),
    allow_promotion_codes: bool = False,
) -> CheckoutRequest:
    """What Stripe is asked for: every amount from the order's own lines and postage, the
    payment methods to offer (empty: those the Stripe dashboard turns on), and whether the buyer
    may enter a promotion code."""
    return CheckoutRequest(
        order_id=order.id,
        reference=order.reference or "",
        currency=order.currency,
        lines=tuple(
            CheckoutLine(line.title, line.isbn, line.unit_price_pence, line.quantity)
            for line in order.lines
        ),
        shipping_label=f"Post to {basket.region.label}",
        shipping_amount=order.postage_pence,
        allowed_countries=basket.region.countries,
        # Stable for one order, so a retried create can never open a second session for it.
        idempotency_key=f"checkout-{order.reference}-{int(order.created_at.timestamp() * 1_000_000)}",
        expires_in_minutes=expires_in_minutes,
        urls=urls,
        payment_methods=payment_methods,
        allow_promotion_codes=allow_promotion_codes,
    )


def open_payment(
    order: Order,
    urls: CheckoutUrls,
    basket: PricedBasket,
    expires_in_minutes: int,
    payment_methods: tuple[str, ...] = (),
    allow_promotion_codes: bool = False,
) -> StartedCheckout:
    """Ask Stripe for a Checkout Session for a committed ``pending_payment`` order.

    On failure the order is marked ``failed_to_start`` and ``PaymentGatewayError`` propagates
    with the customer's message; the caller commits either way.
    """
    request = checkout_request(order, urls, basket, expires_in_minutes, payment_methods, allow_promotion_codes)
    try:
        started = gateway.create_session(request)
    except PaymentGatewayError as error:
        orders.record_checkout_failed(order, error.message)
        raise
    orders.record_checkout_started(order, started.session_id)
    return started


def confirm_checkout(session_id: str) -> Order:
    """The success page: ask Stripe about the session and record what it says (paid,
    processing, failed), unless the order is already paid with its address.

    Does not wait for the webhook; both go through the same repeat-safe fulfilment.
    """
    order = orders.find_by_session(session_id)
    if order is None:
        raise UnknownCheckout("We have no order for that checkout.")
    if order.is_paid and order.has_delivery_address:
        return order
    return fulfil_checkout(gateway.retrieve_session(session_id), actor="customer")


def cancel_checkout(session_id: str) -> Order | None:
    """The customer came back from Stripe without paying: close the session so an old tab cannot
    pay a stale order later, and close the order, unless Stripe says the checkout was completed
    meanwhile (paid, or a bank payment now processing)."""
    order = orders.find_by_session(session_id)
    if order is None or order.status != PENDING_PAYMENT:
        return order
    payment = gateway.expire_session(session_id)
    if payment.outcome == gateway.EXPIRED:
        return orders.close_checkout(session_id, CANCELLED, actor="customer")
    return fulfil_checkout(payment, actor="customer")


def handle_event(event: WebhookEvent) -> str:
    """Apply one verified Stripe event, at most once per event id. Returns what was done.

    The payload is read for ids only: Stripe renders it in the endpoint's API version, which
    may not be ours. What the event is about is asked of Stripe first, while no lock is held;
    then the event is remembered and the answer recorded."""
    if event.api_version and event.api_version != gateway.API_VERSION:
        log.warning(
            "Stripe event %s (%s) is in API version %s; the shop speaks %s. Run `flask stripe "
            "webhook-setup` to give the endpoint the shop's version.",
            event.id, event.type, event.api_version, gateway.API_VERSION,
        )
    if event.type in INVOICE_EVENTS and event.invoice_id:
        return _handle_invoice_event(event, event.invoice_id)
    if event.type in REFUND_EVENTS and event.payment_intent_id:
        if _seen(event):
            return "duplicate"
        if not _refund_is_ours(event.payment_intent_id):
            log.info("Stripe event %s is a refund of a payment that is not ours", event.id)
            return "not ours"
        listed = gateway.list_refunds(event.payment_intent_id)
        if not _remember(event):
            return "duplicate"
        refunded = handle_refund_event(event.payment_intent_id, listed)
        return f"{refunded.reference} {refunded.status}"
    session_id = event.session_id
    if event.type not in SESSION_EVENTS or session_id is None:
        return "ignored"
    if orders.find_by_session(session_id) is None:
        log.info("Stripe event %s is for a session that is not ours", event.id)
        return "not ours"
    if _seen(event):
        return "duplicate"
    try:
        payment = gateway.retrieve_session(session_id)  # Stripe's view now, in our API version
    except UnknownCheckout:
        log.warning("Stripe event %s is for session %s, which Stripe no longer has", event.id, session_id)
        return "unknown to Stripe"
    if not _remember(event):
        return "duplicate"
    order = fulfil_checkout(payment)
    return f"{order.reference} {order.status}"


def _handle_invoice_event(event: WebhookEvent, invoice_id: str) -> str:
    """Apply Stripe's view of the invoice the event is about, at most once per event id. An
    invoice whose id was never recorded (the shop stopped between Stripe's answer and its
    commit) is found by the order reference in its metadata, once Stripe confirms it."""
    order = invoicing.find_by_invoice(invoice_id)
    if order is None and event.order_reference:
        order = invoicing.find_unrecorded(event.order_reference)
    if order is None:
        log.info("Stripe event %s is for an invoice that is not ours", event.id)
        return "not ours"
    if _seen(event):
        return "duplicate"
    try:
        info = gateway.retrieve_invoice(invoice_id)  # Stripe's view now, in our API version
    except UnknownCheckout:
        log.warning("Stripe event %s is for invoice %s, which Stripe no longer has", event.id, invoice_id)
        return "unknown to Stripe"
    if info.order_reference != order.reference:
        log.warning("Stripe event %s: invoice %s is not for order %s", event.id, invoice_id, order.reference)
        return "not ours"
    if not _remember(event):
        return "duplicate"
    invoicing.apply_invoice(order, info, actor="stripe", event_type=event.type)
    return f"{order.reference} {order.status}"


def _seen(event: WebhookEvent) -> bool:
    """Already handled? A plain read, to spare Stripe a question for a redelivery; ``_remember``
    is what decides."""
    return db.session.scalar(select(StripeEvent.id).filter_by(id=event.id)) is not None


def _refund_is_ours(payment_intent_id: str) -> bool:
    """Whether a refunded payment is one of our orders': recorded here, or carrying one of our
    references in its metadata (its payment event not here yet: then the refund is answered
    with a 500 and retried). A refund of another sale on the same Stripe account is not ours,
    and is answered 200 once, not retried for days."""
    if orders.find_by_payment_intent(payment_intent_id) is not None:
        return True
    return gateway.payment_order_reference(payment_intent_id) is not None


def _remember(event: WebhookEvent) -> bool:
    """Insert the event id; False if it was already there (a redelivery, maybe concurrent)."""
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(StripeEvent)
        .values(id=event.id, type=event.type, api_version=event.api_version, received_at=utcnow())
        .on_conflict_do_nothing()
        .returning(StripeEvent.id)  # rowcount is not reliable here across drivers; RETURNING is
    )
    return db.session.execute(statement).scalar() is not None


@dataclass(frozen=True)
class EndpointSetup:
    """What ``setup_webhook_endpoint`` did: ``created`` (``endpoint.secret`` holds the signing
    secret, shown this once), ``updated`` or ``unchanged``; and other endpoints at the same URL
    that someone should delete (another API version, or duplicates)."""

    endpoint: WebhookEndpoint
    action: str
    others: tuple[WebhookEndpoint, ...] = ()


def setup_webhook_endpoint(url: str) -> EndpointSetup:
    """Make sure Stripe sends ``HANDLED_EVENTS`` to ``url`` in the shop's API version: create
    the endpoint, or find it and subscribe it to exactly those events (enabled). Repeat-safe.

    Stripe cannot change an endpoint's API version, so an endpoint at ``url`` in another
    version is left alone (reported in ``others``) and a new one is created beside it."""
    if not url.startswith(("https://", "http://")):
        raise ShopError(f"{url!r} is not a URL: give the full address, such as https://shop.example.org/stripe/webhook")
    events = tuple(sorted(HANDLED_EVENTS))
    at_url = [endpoint for endpoint in gateway.webhook_endpoints() if endpoint.url == url]
    ours = [endpoint for endpoint in at_url if endpoint.api_version == gateway.API_VERSION]
    if not ours:
        created = gateway.create_webhook_endpoint(url, events, ENDPOINT_DESCRIPTION)
        return EndpointSetup(created, "created", tuple(at_url))
    endpoint, others = ours[0], tuple(e for e in at_url if e.id != ours[0].id)
    if set(endpoint.enabled_events) == set(events) and endpoint.status == "enabled":
        return EndpointSetup(endpoint, "unchanged", others)
    return EndpointSetup(gateway.update_webhook_endpoint(endpoint.id, events, ENDPOINT_DESCRIPTION), "updated", others)
