"""Creating orders from a priced basket and moving them through checkout. Flush, never commit."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.catalogue import stock
from shop.catalogue.availability import BACKORDER, BUY, PREORDER, Offer
from shop.catalogue.models import Publication
from shop.errors import CheckoutError, UnknownCheckout
from shop.extensions import db
from shop.orders import holds, models
from shop.orders.holds import Holder
from shop.orders.models import Order, OrderLine
from shop.orders.status import ALLOWED, FAILED_TO_START, PENDING_PAYMENT, transition
from shop.timeutil import utcnow

SOLD_AS = {BUY: models.STOCK, PREORDER: models.PREORDER, BACKORDER: models.BACKORDER}


def _line(publication: Publication, quantity: int, offered: Offer) -> OrderLine:
    if not offered.can_order:
        note = offered.note[0].lower() + offered.note[1:]
        raise CheckoutError(f"“{publication.title}” cannot be ordered now: {note}")
    sold_as = SOLD_AS[offered.action]
    return OrderLine(
        publication_id=publication.id,
        isbn=publication.isbn,
        title=publication.full_title,
        unit_price_pence=publication.unit_price_pence(quantity),  # a volume price, if one applies
        quantity=quantity,
        sold_as=sold_as,
        awaiting_stock=sold_as != models.STOCK,
        expected_on=offered.available_from if sold_as != models.STOCK else None,
    )


def place_order(
    lines: Sequence[tuple[Publication, int, Offer]],
    region: str,
    postage_pence: int,
    reference_prefix: str,
    holder: Holder | None = None,
    hold_limit: int | None = None,
    *,
    status: str = PENDING_PAYMENT,
    pays_by: str = models.CARD,
) -> Order:
    """A ``pending_payment`` order (or one in ``status``, paid as ``pays_by`` says) whose lines
    copy title, ISBN and price (the volume price for the quantity, if one applies) from the
    database now, with the copies of titles sold from stock reserved. ``lines`` are
    (publication, copies, what it offers now: ``catalogue.availability.offer``), checked by the
    caller: a pre-order or a back-order is recorded as such, waiting for stock, with the date
    the customer was told. With a ``holder``, ``CheckoutError`` if it would then hold more than
    ``hold_limit`` copies of a title in unpaid checkouts, or unpaid invoices for an invoice
    order (``holds.check``)."""
    if not lines:
        raise CheckoutError("Your basket is empty.")
    order_lines = [_line(publication, quantity, offered) for publication, quantity, offered in lines]
    subtotal = sum(line.line_total_pence for line in order_lines)
    copies = sum(line.quantity for line in order_lines)
    order = Order(
        status=status,
        pays_by=pays_by,
        region=region,
        currency="gbp",
        subtotal_pence=subtotal,
        postage_pence=postage_pence,
        total_pence=subtotal + postage_pence,
        copies=copies,
        lines=order_lines,
        checkout_address=holder.address if holder else None,
        checkout_basket=holder.basket if holder else None,
    )
    db.session.add(order)
    db.session.flush()  # the id makes the reference
    if holder is not None and hold_limit is not None:
        holds.check(order, holder, hold_limit, by_invoice=pays_by == models.INVOICE)
    stock.reserve(order.lines)
    order.reference = f"{reference_prefix}-{order.created_at.year}-{order.id:06d}"
    order.record("created", "customer", total_pence=order.total_pence, copies=copies)
    db.session.flush()
    return order


def record_checkout_started(order: Order, session_id: str) -> None:
    order.stripe_session_id = session_id
    order.record("checkout_started", "customer", stripe_session_id=session_id)
    db.session.flush()


def record_checkout_failed(order: Order, message: str) -> None:
    """Stripe was down or refused: the order is closed rather than left pending forever."""
    if transition(
        order, FAILED_TO_START, actor="system", detail={"error": message},
        checkout_error=message, closed_at=utcnow(),
    ):
        stock.release(order.lines)
        db.session.flush()


def close_checkout(session_id: str, new_status: str, actor: str) -> Order | None:
    """Close a still-pending order (session expired, payment failed, customer cancelled), and
    return its copies to stock.

    The move is ``transition``'s compare-and-set from pending, so a payment landing at the same
    moment wins and a paid order is never closed. Returns the order, or None when no order has
    that session.
    """
    assert new_status in ALLOWED[PENDING_PAYMENT]
    order = find_by_session(session_id)
    if order is None or order.status != PENDING_PAYMENT:
        return order
    if transition(order, new_status, actor=actor, closed_at=utcnow()):
        stock.release(order.lines)
        db.session.flush()
    return order


def find_by_session(session_id: str) -> Order | None:
    return db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


def find_by_payment_intent(payment_intent_id: str) -> Order | None:
    return db.session.scalar(select(Order).filter_by(payment_intent_id=payment_intent_id))


def get_by_session(session_id: str) -> Order:
    order = find_by_session(session_id)
    if order is None:
        raise UnknownCheckout("We have no order for that checkout.")
    return order


def recent_orders(limit: int) -> list[Order]:
    """Newest first, with lines loaded in one extra query."""
    return list(
        db.session.scalars(
            select(Order).options(selectinload(Order.lines)).order_by(Order.id.desc()).limit(limit)
        )
    )
