"""Creating orders from a priced basket and moving them through checkout. Flush, never commit."""

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from shop.basket.services import PricedBasket
from shop.catalogue import stock
from shop.errors import CheckoutError, UnknownCheckout
from shop.extensions import db
from shop.orders.models import (
    ALLOWED,
    FAILED_TO_START,
    PENDING_PAYMENT,
    Order,
    OrderLine,
)
from shop.timeutil import utcnow


def place_order(basket: PricedBasket, reference_prefix: str) -> Order:
    """A ``pending_payment`` order whose lines copy title, ISBN and price from the database now."""
    if basket.is_empty:
        raise CheckoutError("Your basket is empty.")
    if basket.problems:
        raise CheckoutError(" ".join(basket.problems))
    order = Order(
        status=PENDING_PAYMENT,
        region=basket.region.key,
        currency="gbp",
        subtotal_pence=basket.subtotal_pence,
        postage_pence=basket.postage_pence,
        total_pence=basket.total_pence,
        copies=basket.copies,
        lines=[
            OrderLine(
                publication_id=line.publication.id,
                isbn=line.publication.isbn,
                title=line.publication.full_title,
                unit_price_pence=line.publication.price_pence,
                quantity=line.quantity,
            )
            for line in basket.lines
        ],
    )
    db.session.add(order)
    db.session.flush()  # the id makes the reference
    stock.reserve(order.lines)
    order.reference = f"{reference_prefix}-{order.created_at.year}-{order.id:06d}"
    order.record("created", "customer", total_pence=order.total_pence, copies=basket.copies)
    db.session.flush()
    return order


def record_checkout_started(order: Order, session_id: str) -> None:
    order.stripe_session_id = session_id
    order.record("checkout_started", "customer", stripe_session_id=session_id)
    db.session.flush()


def record_checkout_failed(order: Order, message: str) -> None:
    """Stripe was down or refused: the order is closed rather than left pending forever."""
    order.checkout_error = message
    order.closed_at = utcnow()
    order.set_status(FAILED_TO_START, "system", error=message)
    stock.release(order.lines)
    db.session.flush()


def close_checkout(session_id: str, new_status: str, actor: str) -> Order | None:
    """Close a still-pending order (session expired, payment failed, customer cancelled).

    The conditional UPDATE makes this safe against a payment landing at the same moment: a paid
    order is never closed. Returns the order, or None when no order has that session.
    """
    assert new_status in ALLOWED[PENDING_PAYMENT]
    closed = db.session.execute(
        update(Order)
        .where(Order.stripe_session_id == session_id, Order.status == PENDING_PAYMENT)
        .values(status=new_status, closed_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    order = find_by_session(session_id)
    if order is not None and closed:
        db.session.refresh(order)
        stock.release(order.lines)
        order.record(new_status, actor, before=PENDING_PAYMENT, after=new_status)
        db.session.flush()
    return order


def find_by_session(session_id: str) -> Order | None:
    return db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


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
