"""Stock on hand, changed only by atomic conditional UPDATEs (never read-then-write), so two
buyers of the last copy cannot both get it, on PostgreSQL (row locks) or SQLite (write lock).

Checkout reserves: the copies leave ``stock`` while the order awaits payment, and come back if
the checkout closes unpaid. A payment therefore changes nothing, except a late one for an order
whose reservation was already released, which takes the copies again.

Only lines sold from stock (``line.reserves_stock``) take part: a pre-ordered or back-ordered line
has no copies to reserve; the desk allocates them when they arrive (orders.waiting)."""

from sqlalchemy import update

from shop.catalogue.models import Publication
from shop.errors import CheckoutError
from shop.extensions import db, rows_changed


def _copies(n: int) -> str:
    return "copy" if n == 1 else "copies"


def _from_stock(lines) -> list:
    """The lines that reserve copies, in publication id order (so two checkouts of the same
    titles lock them in the same order and cannot deadlock)."""
    return sorted(
        (line for line in lines if line.publication_id is not None and getattr(line, "reserves_stock", True)),
        key=lambda line: line.publication_id,
    )


def reserve(lines) -> None:
    """Take ``line.quantity`` copies for each line (``publication_id``, ``quantity``, ``title``).

    All or nothing: raises ``CheckoutError`` naming how many are left of the first title that
    falls short, and the caller rolls the transaction back. Lines are locked in id order, so two
    checkouts of the same titles cannot deadlock.
    """
    for line in _from_stock(lines):
        taken = rows_changed(
            update(Publication)
            .where(
                Publication.id == line.publication_id,
                Publication.on_sale.is_(True),
                Publication.stock >= line.quantity,
            )
            .values(stock=Publication.stock - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if not taken:
            left = db.session.scalar(
                db.select(Publication.stock).where(Publication.id == line.publication_id)
            ) or 0
            raise CheckoutError(
                f"Sorry, only {left} {_copies(left)} of “{line.title}” left now: "
                "please change the quantity in your basket."
                if left
                else f"Sorry, “{line.title}” has just sold out."
            )


def release(lines) -> None:
    """Give back the copies of a checkout that closed unpaid."""
    for line in _from_stock(lines):
        db.session.execute(
            update(Publication)
            .where(Publication.id == line.publication_id)
            .values(stock=Publication.stock + line.quantity)
            .execution_options(synchronize_session=False)
        )


def take_late(lines) -> list[str]:
    """Take copies for a payment that arrived after its reservation was released. Never goes
    below zero; returns the ISBNs that fell short, for staff to see."""
    short = []
    for line in _from_stock(lines):
        taken = rows_changed(
            update(Publication)
            .where(Publication.id == line.publication_id, Publication.stock >= line.quantity)
            .values(stock=Publication.stock - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if not taken:
            db.session.execute(
                update(Publication)
                .where(Publication.id == line.publication_id)
                .values(stock=0)
                .execution_options(synchronize_session=False)
            )
            short.append(line.isbn)
    return short
