"""Pre-orders and back-orders: paid orders whose lines wait for copies, a queue per title.

A waiting line (``OrderLine.awaiting_stock``) was paid for with no copies to reserve. When copies
arrive, the desk allocates them to the queue in order-date order (oldest order first): each line
takes its copies from stock by the same conditional UPDATE checkout uses, then stops waiting by
a compare-and-set, so two people allocating at once never give one copy twice nor one line two
sets. An order with no line left waiting joins those awaiting dispatch. Staff can also send
everyone waiting for a title its new expected date, once per change of date.

Functions take explicit arguments (the acting staff member's email, today) and flush."""

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, func, select, update

from shop.catalogue.availability import may_ship, offer
from shop.catalogue.models import Publication
from shop.emails.outbox import queue_new_date
from shop.errors import ShopError
from shop.extensions import db, rows_changed
from shop.orders.models import Order, OrderLine
from shop.orders.status import DISPATCHABLE


class WaitingError(ShopError):
    pass


@dataclass
class WaitingTitle:
    """A title with paid orders waiting for it."""

    publication_id: int
    isbn: str
    title: str
    orders: int
    copies: int
    oldest: datetime
    stock: int


@dataclass
class QueuedLine:
    line_id: int
    order_id: int
    reference: str
    ordered_at: datetime
    customer: str
    quantity: int
    sold_as: str
    expected_on: date | None


@dataclass
class Allocation:
    allocated: list[str] = field(default_factory=list)  # order references, oldest first
    copies: int = 0
    ready: list[str] = field(default_factory=list)  # of those, the ones now complete to pack
    short: QueuedLine | None = None  # the first order the stock could not fill
    stock_left: int = 0

    def describe(self, title: str) -> str:
        if not self.allocated and self.short is None:
            return f"No orders are waiting for “{title}”."
        parts = []
        if self.allocated:
            orders = "order" if len(self.allocated) == 1 else "orders"
            parts.append(
                f"Allocated {self.copies} {'copy' if self.copies == 1 else 'copies'} of “{title}” "
                f"to {len(self.allocated)} {orders} ({', '.join(self.allocated)}); "
                f"{len(self.ready)} now ready to pack."
            )
        if self.short is not None:
            parts.append(
                f"{self.short.reference} needs {self.short.quantity} and {self.stock_left} "
                f"{'is' if self.stock_left == 1 else 'are'} left, so it and the orders after it "
                "still wait."
            )
        return " ".join(parts)


_paid = exists().where(Order.id == OrderLine.order_id, Order.status.in_(DISPATCHABLE))


def waiting_titles() -> list[WaitingTitle]:
    """Every title with paid orders waiting for it, the longest-waiting first (one query)."""
    rows = db.session.execute(
        select(
            Publication.id, Publication.isbn, Publication.title, Publication.stock,
            func.count(func.distinct(OrderLine.order_id)).label("orders"),
            func.sum(OrderLine.quantity).label("copies"),
            func.min(Order.created_at).label("oldest"),
        )
        .join(OrderLine, OrderLine.publication_id == Publication.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.awaiting_stock, Order.status.in_(DISPATCHABLE))
        .group_by(Publication.id, Publication.isbn, Publication.title, Publication.stock)
        .order_by(func.min(Order.created_at))
    )
    return [
        WaitingTitle(row.id, row.isbn, row.title, row.orders, int(row.copies), row.oldest, row.stock)
        for row in rows
    ]


def waiting_count(publication: Publication) -> tuple[int, int]:
    """(orders, copies) waiting for ``publication``."""
    row = db.session.execute(
        select(func.count(func.distinct(OrderLine.order_id)), func.coalesce(func.sum(OrderLine.quantity), 0))
        .where(OrderLine.publication_id == publication.id, OrderLine.awaiting_stock, _paid)
    ).one()
    return int(row[0]), int(row[1])


def queue(publication: Publication) -> list[QueuedLine]:
    """The paid lines waiting for ``publication``, oldest order first."""
    rows = db.session.execute(
        select(
            OrderLine.id, OrderLine.order_id, Order.reference, Order.created_at,
            func.coalesce(Order.customer_name, Order.customer_email, "").label("customer"),
            OrderLine.quantity, OrderLine.sold_as, OrderLine.expected_on,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.publication_id == publication.id,
            OrderLine.awaiting_stock,
            Order.status.in_(DISPATCHABLE),
        )
        .order_by(Order.created_at, Order.id, OrderLine.id)
    )
    return [
        QueuedLine(row.id, row.order_id, row.reference or "", row.created_at, row.customer,
                   row.quantity, row.sold_as, row.expected_on)
        for row in rows
    ]


def allocate(publication: Publication, today: date, actor: str) -> Allocation:
    """Give copies in stock to the orders waiting for ``publication``, oldest first, until one
    cannot be filled (later, smaller orders do not jump it). Refused before publication, so no
    pre-order leaves early. Each order gets a timeline entry; flushes."""
    if not may_ship(publication, today):
        when = publication.publication_date
        raise WaitingError(
            f"“{publication.title}” is not published yet"
            + (f" (publication day {when:%-d %B %Y})" if when else "")
            + ": pre-orders are allocated from publication day, once its status is Active."
        )
    result = Allocation()
    for line in queue(publication):
        taken = rows_changed(
            update(Publication)
            .where(Publication.id == publication.id, Publication.stock >= line.quantity)
            .values(stock=Publication.stock - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if not taken:
            result.short = line
            break
        # Claimed only while still waiting and still paid: another desk, or a refund, may have
        # got there first, and then the copies go back.
        claimed = rows_changed(
            update(OrderLine)
            .where(OrderLine.id == line.line_id, OrderLine.awaiting_stock, _paid)
            .values(awaiting_stock=False)
            .execution_options(synchronize_session=False)
        )
        if not claimed:
            db.session.execute(
                update(Publication)
                .where(Publication.id == publication.id)
                .values(stock=Publication.stock + line.quantity)
                .execution_options(synchronize_session=False)
            )
            continue
        order = db.session.get(Order, line.order_id)
        assert order is not None
        order.record("allocated", actor, isbn=publication.isbn, copies=line.quantity)
        result.allocated.append(line.reference)
        result.copies += line.quantity
        # Asked of the database, not of lines this session may hold from before the UPDATEs.
        still_waiting = db.session.scalar(
            select(exists().where(OrderLine.order_id == line.order_id, OrderLine.awaiting_stock))
        )
        if not still_waiting:
            result.ready.append(line.reference)
    db.session.flush()
    db.session.expire(publication, ["stock", "updated_at"])
    result.stock_left = publication.stock
    return result


def send_new_date(publication: Publication, today: date, actor: str) -> tuple[int, date | None]:
    """Tell every customer waiting for ``publication`` whose line says another date the date
    copies are now expected (what ``offer`` says: the expected ship date, or for a pre-order the
    publication day), by one email each. Returns (emails queued, the date).

    Exactly once per change: each line's date moves by a compare-and-set from the date it was
    told, and only the caller whose write moved it queues the email (keyed by the line and its
    count of notices), so a second click, or two people at once, send nothing more."""
    offered = offer(publication, today)
    if not offered.waits_for_stock:
        raise WaitingError(
            f"“{publication.title}” is not a pre-order or a back-order now ({offered.label.lower()}):"
            " there is no date to send. If copies are in, allocate them instead."
        )
    new = offered.available_from
    sent = 0
    for line in queue(publication):
        if line.expected_on == new:
            continue
        moved = db.session.scalar(
            update(OrderLine)
            .where(
                OrderLine.id == line.line_id,
                OrderLine.awaiting_stock,
                OrderLine.expected_on.is_(None) if line.expected_on is None
                else OrderLine.expected_on == line.expected_on,
            )
            .values(expected_on=new, date_notices=OrderLine.date_notices + 1)
            .returning(OrderLine.date_notices)
            .execution_options(synchronize_session=False)
        )
        if moved is None:
            continue  # someone else sent this change a moment ago
        order = db.session.get(Order, line.order_id)
        order_line = db.session.get(OrderLine, line.line_id)
        assert order is not None and order_line is not None
        db.session.refresh(order_line)
        if queue_new_date(order, order_line, line.expected_on, topic=f"line-{line.line_id}-notice-{moved}"):
            sent += 1
        order.record(
            "new_date", actor, isbn=publication.isbn,
            before={"expected_on": line.expected_on.isoformat() if line.expected_on else None},
            after={"expected_on": new.isoformat() if new else None},
        )
    db.session.flush()
    return sent, new
