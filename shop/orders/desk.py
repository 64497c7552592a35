"""The staff order desk: finding orders, dispatching them, and notes.

Functions take explicit arguments (the acting staff member's email included) and flush."""

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)

from shop.emails.outbox import queue_dispatch_notice
from shop.errors import NotFound, ShopError
from shop.extensions import db, rows_changed
from shop.money import format_pence
from shop.orders.models import Order, OrderLine, days_awaiting_dispatch
from shop.orders.status import (
    AWAITING_INVOICE_PAYMENT,
    CLOSED,
    DISPATCHABLE,
    INVOICE_PENDING,
    PLACED,
    REFUNDED,
    STATUS_LABELS,
    dispatched_status,
    transition,
)
from shop.prepared import PREPARE
from shop.textsearch import contains_text
from shop.timeutil import start_of_local_day, utcnow

MAX_NOTE = 2000
REFERENCE_SHAPE = re.compile(r"^[A-Z]{1,6}-\d{4}-\d{1,9}$")

TO_PACK = "to_pack"
# Old links said "awaiting" for what is now the "to pack" view.
FILTER_ALIASES = {"awaiting": TO_PACK}

# The status filter: groups first, then each status. The "to pack" view is not a set of
# statuses but ``to_pack()`` (which leaves out paid orders still waiting for copies of a
# pre-ordered or back-ordered title); "waiting" is those. Their tuples are only what they draw
# from.
STATUS_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    TO_PACK: ("To pack (oldest first, flagged first)", DISPATCHABLE),
    "placed": ("All paid orders", PLACED),
    "waiting": ("Paid, waiting for stock", DISPATCHABLE),
    "all": ("Everything, unpaid too", ()),
    "unpaid": ("Not paid (closed checkouts)", CLOSED),
    "invoices_unpaid": ("Invoices not yet paid", (INVOICE_PENDING, *AWAITING_INVOICE_PAYMENT)),
    **{status: (label, (status,)) for status, label in STATUS_LABELS.items()},
}


class DeskError(ShopError):
    pass


# An order with a line still waiting for copies (orders.waiting).
WAITING_LINE = exists().where(OrderLine.order_id == Order.id, OrderLine.awaiting_stock)


# Stripe accepted a refund of all that was charged and has not completed it (Order's twin).
FULL_REFUND_PENDING = and_(
    Order.refund_pending_pence > 0,
    Order.refunded_pence + Order.refund_pending_pence >= func.coalesce(Order.amount_charged_pence, 0),
)


def status_in(statuses: tuple[str, ...]) -> ColumnElement[bool]:
    """``Order.status IN (…)`` with the statuses written into the SQL, not bound. A prepared
    statement's plan is made once for any values bound (a generic plan): with the statuses in its
    text, each list keeps a plan of its own (a rare status does not share a common one's), and
    PostgreSQL's partial index of the orders to pack (migration 0023) can serve it, since the
    planner sees the statuses are the index's."""
    return Order.status.in_(bindparam(None, statuses, expanding=True, literal_execute=True))


def to_pack() -> ColumnElement[bool]:
    """The orders in the "to pack" view and its counts: dispatchable, not yet dispatched, with no
    line still waiting for copies (a pre-order or back-order not yet allocated), not cancelled
    and not being refunded in full (a pending bank refund leaves the order paid until Stripe
    completes it). An order with an amount mismatch nobody has acknowledged is among them,
    flagged first, so that someone looks at it; it cannot be sent until then (``packable``)."""
    return and_(
        status_in(DISPATCHABLE), Order.dispatched_at.is_(None), ~WAITING_LINE,
        Order.cancelled_at.is_(None), ~FULL_REFUND_PENDING,
    )


def packable() -> ColumnElement[bool]:
    """The one definition of an order that may be packed and sent now: ``to_pack()`` less any
    amount mismatch nobody has acknowledged. ``Order.can_dispatch`` is its twin in Python.

    The batch actions, the tracking import and the Click & Drop export ask this (and the view
    ``to_pack``, of which it is part), so a new kind of dispatchable order (an invoiced one) or
    a new reason to hold one back is one change here.
    """
    return and_(
        to_pack(),
        or_(Order.amount_mismatch.is_(False), Order.mismatch_acknowledged_at.is_not(None)),
    )


def why_not_packable(order: Order) -> str:
    """In words, why an order outside ``packable()`` cannot be dispatched now."""
    if order.dispatched_at is not None:
        return "already dispatched"
    if order.cancelled_at is not None:
        return "cancelled"
    if order.full_refund_pending:
        return "being refunded in full (Stripe has not completed the refund yet)"
    if order.status in DISPATCHABLE and order.awaiting_stock:
        return "still waiting for copies of a pre-ordered or back-ordered title"
    if order.status in DISPATCHABLE and order.mismatch_unacknowledged:
        return "flagged for an amount mismatch nobody has acknowledged yet"
    return f"{order.status_label.lower()}, not waiting to be packed"


def ready_since() -> ColumnElement[datetime]:
    """Since when an order to pack has been ready: its payment, or (invoiced, not paid) its
    placing. The SQL twin of ``days_awaiting_dispatch``'s moment."""
    return func.coalesce(Order.paid_at, Order.created_at)


def overdue_before(now: datetime, overdue_days: int) -> datetime:
    """Orders ready before this moment are flagged: ``order_flags`` says "waiting N days" past
    ``overdue_days`` whole days."""
    return now - timedelta(days=overdue_days + 1)


def flagged(ready_before: datetime | BindParameter) -> ColumnElement[bool]:
    """The SQL twin of ``order_flags`` for orders to pack: what staff should look at first
    (``ready_before``: ``overdue_before(now, overdue_days)``, or a bound parameter for it)."""
    return or_(
        Order.amount_mismatch.is_(True),
        Order.refunded_pence > 0,
        ready_since() <= ready_before,
    )


def to_pack_order(ready_before: datetime | BindParameter) -> tuple:
    """Flagged first, then oldest payment (or invoice) first."""
    return (case((flagged(ready_before), 0), else_=1), ready_since().asc(), Order.id.asc())


@dataclass
class OrderFilters:
    status: str = "placed"
    date_from: date | None = None
    date_to: date | None = None
    isbn: str | None = None  # 13 digits
    text: str = ""

    @property
    def to_pack(self) -> bool:
        return self.status == TO_PACK

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for pagination links and the CSV link)."""
        args = {
            "status": self.status,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "isbn": self.isbn or "",
            "q": self.text,
        }
        return {key: value for key, value in args.items() if value}


class Flag(NamedTuple):
    text: str
    css_class: str = "flag"


def order_flags(order, now: datetime, overdue_days: int) -> list[Flag]:
    """What staff should look at: an ``Order``, or a row with the same columns."""
    flags = []
    if order.amount_mismatch and order.mismatch_acknowledged_at is None:
        flags.append(Flag("Amount mismatch"))
    elif order.amount_mismatch:
        flags.append(Flag("Amount mismatch acknowledged", "flag flag-info"))
    waiting_for_stock = order.status in DISPATCHABLE and order.awaiting_stock
    waited = days_awaiting_dispatch(order.status, order.paid_at, order.dispatched_at, now, order.created_at)
    if waiting_for_stock:
        flags.append(Flag("Awaiting stock", "flag flag-info"))
    elif waited is not None and waited > overdue_days:
        flags.append(Flag(f"Waiting {waited} days"))
    if order.refunded_pence and order.status != REFUNDED:
        flags.append(Flag(f"Refunded {format_pence(order.refunded_pence)}", "flag flag-info"))
    if order.refund_pending_pence:
        flags.append(Flag(f"Refund pending {format_pence(order.refund_pending_pence)}", "flag flag-info"))
    if order.cancelled_at is not None and order.status != REFUNDED and not order.refund_pending_pence:
        # The cancellation's refund failed (a closed bank account): the money is still here.
        flags.append(Flag("Cancelled, but the refund failed: refund again"))
    elif order.cancelled_at is not None and order.status != REFUNDED:
        flags.append(Flag("Cancelled: not to be sent", "flag flag-info"))
    if order.status in AWAITING_INVOICE_PAYMENT:
        flags.append(Flag("Invoice unpaid", "flag flag-info"))
    return flags


class ListedOrder(NamedTuple):
    """One line of the order list: plain values of the columns it shows, no ORM object."""

    reference: str
    created_at: datetime
    customer_name: str | None
    customer_email: str | None
    copies: int
    total_pence: int
    status_label: str
    flags: tuple[Flag, ...]


class _ListedRow(NamedTuple):
    """A row of ``_LISTED_COLUMNS``, in their order: what ``order_flags`` reads, as a plain tuple
    (an SQLAlchemy ``Row``'s attributes cost a lookup each, and ``order_flags`` reads a dozen of
    them for each of fifty rows)."""

    reference: str
    created_at: datetime
    customer_name: str | None
    customer_email: str | None
    copies: int
    total_pence: int
    status: str
    amount_mismatch: bool
    refunded_pence: int
    refund_pending_pence: int
    paid_at: datetime | None
    dispatched_at: datetime | None
    mismatch_acknowledged_at: datetime | None
    cancelled_at: datetime | None
    awaiting_stock: bool


_LISTED_COLUMNS = (
    Order.reference, Order.created_at, Order.customer_name, Order.customer_email, Order.copies,
    Order.total_pence, Order.status, Order.amount_mismatch, Order.refunded_pence,
    Order.refund_pending_pence, Order.paid_at, Order.dispatched_at, Order.mismatch_acknowledged_at,
    Order.cancelled_at,
    WAITING_LINE.label("awaiting_stock"),
)
assert tuple(column.key for column in _LISTED_COLUMNS) == _ListedRow._fields
_LISTED_WIDTH = len(_LISTED_COLUMNS)


# Counting stops here: past it the page says "more than 1,000", and its cost stays flat however
# large the order table grows. A thousand is also the most one batch action takes (the default
# STAFF_BATCH_LIMIT). Counting to 10,000 took 0.6 ms of the list page's 4.7 ms.
COUNT_CAP = 1_000


@dataclass
class OrderPage:
    orders: list[ListedOrder]
    total: int  # at most COUNT_CAP + 1, unless exact
    page: int
    per_page: int
    filters: OrderFilters = field(default_factory=OrderFilters)
    exact: bool = False  # counted in full (the "to pack" sort reads every order to pack anyway)

    @property
    def total_is_capped(self) -> bool:
        return not self.exact and self.total > COUNT_CAP

    @property
    def pages(self) -> int:
        counted = self.total if self.exact else min(self.total, COUNT_CAP)
        return max((counted + self.per_page - 1) // self.per_page, 1)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or (self.total_is_capped and len(self.orders) == self.per_page)


def filtered_orders(filters: OrderFilters, *, bound_dates: bool = False) -> Select:
    """``SELECT … FROM shop_order WHERE <filters>``, no ordering, for the list and the export.
    With ``bound_dates`` the dates are bound parameters (``placed_from``, ``placed_before``:
    ``date_bounds``) for a statement kept and run again with other dates."""
    statement = select(Order)
    statuses = STATUS_FILTERS.get(filters.status, STATUS_FILTERS["placed"])[1]
    if filters.to_pack:
        statement = statement.where(to_pack())
    elif statuses:
        statement = statement.where(status_in(statuses))
    if filters.status == "waiting":
        statement = statement.where(Order.dispatched_at.is_(None), WAITING_LINE)
    bounds = date_bounds(filters)
    if filters.date_from:
        statement = statement.where(
            Order.created_at >= (bindparam("placed_from") if bound_dates else bounds["placed_from"]))
    if filters.date_to:
        statement = statement.where(
            Order.created_at < (bindparam("placed_before") if bound_dates else bounds["placed_before"]))
    if filters.isbn:
        statement = statement.where(
            exists().where(OrderLine.order_id == Order.id, OrderLine.isbn == filters.isbn)
        )
    text = filters.text.strip()[:200]
    if text:
        if REFERENCE_SHAPE.match(text.upper()):
            statement = statement.where(Order.reference == text.upper())
        else:
            # Part of a postcode, typed with or without its space ("ls14", "LS1 4"), matches
            # the postcode written without spaces; town and street lines match as typed.
            postcode = text.upper().replace(" ", "")
            statement = statement.where(
                or_(
                    contains_text(Order.reference, text),
                    contains_text(Order.customer_email, text),
                    contains_text(Order.customer_name, text),
                    contains_text(Order.ship_name, text),
                    contains_text(compact_postcode(), postcode),
                    contains_text(Order.ship_city, text),
                    contains_text(Order.ship_line1, text),
                    contains_text(Order.ship_line2, text),
                )
            )
    return statement


def date_bounds(filters: OrderFilters) -> dict[str, datetime]:
    """The moments the filter's dates stand for: from the start of ``date_from``, before the
    start of the day after ``date_to`` (each day in the shop's time zone)."""
    bounds = {}
    if filters.date_from:
        bounds["placed_from"] = start_of_local_day(filters.date_from)
    if filters.date_to:
        bounds["placed_before"] = start_of_local_day(filters.date_to + timedelta(days=1))
    return bounds


def compact_postcode() -> ColumnElement[str]:
    """The postcode in capitals without spaces (trigram-indexed on PostgreSQL, migration 0017)."""
    return func.replace(func.upper(Order.ship_postal_code), " ", "")


def search_orders(
    filters: OrderFilters, page: int, per_page: int, now: datetime, overdue_days: int
) -> OrderPage:
    """Newest first, one page with each order's flags as of ``now``, and how many match (counted
    up to ``COUNT_CAP``; the orders to pack are counted in full, in the page's own statement).
    See ``_list_statements``."""
    page = max(page, 1)
    if filters.isbn or filters.text.strip():  # a search: its words are in the statements
        statements = _list_statements(filters)
    else:  # a list: the same two statements for every page, date and moment (kept)
        statements = _kept_list_statements(filters.status, bool(filters.date_from), bool(filters.date_to))
    values = {
        **date_bounds(filters), "ready_before": overdue_before(now, overdue_days),
        "first_row": (page - 1) * per_page, "rows": per_page, "count_limit": COUNT_CAP + 1,
    }
    # Plain columns, no ORM entity: run on the session's connection, past the ORM's layer.
    connection = db.session.connection()
    rows = connection.execute(statements.page, values).all()
    listed = [_ListedRow._make(row[:_LISTED_WIDTH]) for row in rows]
    orders = [
        ListedOrder(row.reference, row.created_at, row.customer_name, row.customer_email, row.copies,
                    row.total_pence, STATUS_LABELS.get(row.status, row.status),
                    tuple(order_flags(row, now, overdue_days)))
        for row in listed
    ]
    if filters.to_pack and rows:
        total = rows[0][_LISTED_WIDTH]  # "matching", after the listed columns
    else:  # the count stops at the cap; "to pack" counts in full on a page past the last too
        total = connection.scalar(statements.total, values)
    return OrderPage(orders, total or 0, page, per_page, filters, exact=filters.to_pack)


class ListStatements(NamedTuple):
    page: Select  # one page of _LISTED_COLUMNS (and, "to pack", the count of all that match)
    total: Select  # how many match, up to COUNT_CAP + 1 ("to pack": all of them)


def _list_statements(filters: OrderFilters) -> ListStatements:
    """The list's statements for ``filters``, with bound parameters for what changes from one
    request to the next: the dates (``date_bounds``), the moment an order is overdue
    (``ready_before``), the page (``first_row``, ``rows``) and ``count_limit``.

    Each is cheap at 100,000 orders: the page walks ``ix_shop_order_created_at`` backwards and
    stops after ``rows`` rows; the count reads at most ``COUNT_CAP + 1`` entries of the
    status/created index. (A window ``count(*) OVER ()`` on the page query would instead read
    and sort every matching row.) The "to pack" view sorts flagged first, then oldest first: it
    sorts only the orders waiting to be packed, a small share of the table, and since that sort
    reads each of them, it counts them in the same pass, over ids alone (sorting and counting
    whole rows cost SQLite 0.4 ms more at 800 orders to pack), then reads the page's rows by id.
    """
    filtered = filtered_orders(filters, bound_dates=True)
    ids = filtered.with_only_columns(Order.id).order_by(None)
    first_row, rows = bindparam("first_row", type_=Integer), bindparam("rows", type_=Integer)
    if filters.to_pack:
        ordering = to_pack_order(bindparam("ready_before", type_=Order.paid_at.type))
        ranked = (
            filtered.with_only_columns(Order.id, func.count().over().label("matching"))
            .order_by(*ordering).limit(rows).offset(first_row).subquery()
        )
        page = (
            select(*_LISTED_COLUMNS, ranked.c.matching)
            .join_from(ranked, Order, Order.id == ranked.c.id).order_by(*ordering)
        )
        return ListStatements(page, select(func.count()).select_from(ids.subquery()))
    page = (
        filtered.with_only_columns(*_LISTED_COLUMNS)
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(rows).offset(first_row)
    )
    count_limit = bindparam("count_limit", type_=Integer)  # COUNT_CAP + 1
    return ListStatements(page, select(func.count()).select_from(ids.limit(count_limit).subquery()))


@functools.lru_cache(maxsize=64)  # a few dozen statuses, each with or without either date
def _kept_list_statements(status: str, date_from: bool, date_to: bool) -> ListStatements:
    """``_list_statements`` for a list without a search, built once per status and choice of
    dates: building the "to pack" statement cost as much as SQLite took to run it."""
    placeholder = date(2000, 1, 1)  # only whether a date is given shapes the statement
    statements = _list_statements(OrderFilters(
        status=status, date_from=placeholder if date_from else None, date_to=placeholder if date_to else None,
    ))
    # Prepared on PostgreSQL (shop.prepared): their statuses are in their text, so each list has a
    # plan of its own; a search is never prepared (its words decide the best plan).
    return ListStatements(*(statement.execution_options(**PREPARE) for statement in statements))


@dataclass
class Selection:
    """The orders a batch action is for: ticked references, or every order matching
    ``filters`` that was placed, and paid if it is, by the time the list was shown
    (``placed_by``), without a list of ids."""

    references: list[str] = field(default_factory=list)
    filters: OrderFilters | None = None
    placed_by: datetime | None = None
    packing_order: bool = False  # ticked on the "to pack" view: keep its order (flagged, oldest)

    @property
    def is_empty(self) -> bool:
        return self.filters is None and not self.references


def selected_orders(selection: Selection, limit: int, now: datetime, overdue_days: int) -> list[Order]:
    """The selected orders, in the list's own order ("to pack": flagged first, oldest first;
    otherwise newest first). Raises ``DeskError`` for an empty selection or one larger than
    ``limit`` (a batch is meant to be read and packed, so narrow the filter)."""
    if selection.is_empty:
        raise DeskError("Tick at least one order first.")
    if selection.filters is not None:
        statement = filtered_orders(selection.filters)
        if selection.placed_by is not None:
            # A bank payment placed earlier but cleared since was not on the list staff saw.
            statement = statement.where(
                Order.created_at <= selection.placed_by,
                or_(Order.paid_at.is_(None), Order.paid_at <= selection.placed_by),
            )
        to_pack = selection.filters.to_pack
    else:
        references = sorted({ref.strip().upper() for ref in selection.references if ref.strip()})
        statement = select(Order).where(Order.reference.in_(references))
        to_pack = selection.packing_order
    ordering = (
        to_pack_order(overdue_before(now, overdue_days)) if to_pack else (Order.created_at.desc(), Order.id.desc())
    )
    orders = list(db.session.scalars(statement.order_by(*ordering).limit(limit + 1)))
    if len(orders) > limit:
        raise DeskError(
            f"More than {limit:,} orders are selected; a batch takes at most {limit:,}. "
            "Narrow the filter (a date range, say) and try again."
        )
    if not orders:
        raise DeskError("None of the selected orders exists any more." if selection.filters is None
                        else "No order matches that filter any more.")
    return orders


def get_order(reference: str) -> Order:
    order = db.session.scalar(select(Order).filter_by(reference=(reference or "").upper()))
    if order is None:
        raise NotFound(f"There is no order {reference}.")
    return order


def dispatch_order(order: Order, carrier: str, tracking_number: str, actor: str) -> None:
    """Mark a paid (or invoiced) order dispatched, once: a second click that raced the first,
    like an order that is not (or no longer) dispatchable, is refused."""
    if order.dispatched_at is not None:
        raise DeskError(f"Order {order.reference} was already dispatched.")
    waiting = [line.title for line in order.lines if line.awaiting_stock]
    if waiting and order.status in DISPATCHABLE:
        raise DeskError(
            f"Order {order.reference} is still waiting for copies of “{waiting[0]}”: allocate "
            "them from the waiting list first, then pack the whole order."
        )
    if order.status in DISPATCHABLE and order.mismatch_unacknowledged:
        raise DeskError(
            f"Stripe charged a different amount from the total of order {order.reference} (it is "
            "flagged: amount mismatch). Check the payment and acknowledge the mismatch on this "
            "page before dispatching."
        )
    if not order.can_dispatch:
        raise DeskError(f"Order {order.reference} cannot be dispatched: it is {why_not_packable(order)}.")
    moved = transition(
        order,
        dispatched_status(order.status),  # dispatched, or dispatched with its invoice unpaid
        actor=actor,
        kind="dispatched",
        detail={"carrier": carrier or None, "tracking_number": tracking_number or None},
        dispatched_at=utcnow(),
        carrier=carrier or None,
        tracking_number=tracking_number or None,
    )
    if not moved:
        raise DeskError(f"Order {order.reference} was already dispatched.")
    queue_dispatch_notice(order)
    db.session.flush()


def acknowledge_mismatch(order: Order, note: str, actor: str) -> None:
    """Record that ``actor`` looked into the order's amount mismatch (``note`` says what they
    found), once; from then on it may be dispatched. A compare-and-set, so two clicks record
    one acknowledgement."""
    note = (note or "").strip()
    if not order.amount_mismatch:
        raise DeskError(f"Order {order.reference} has no amount mismatch to acknowledge.")
    if not note:
        raise DeskError("Say what you checked before acknowledging the mismatch.")
    if len(note) > MAX_NOTE:
        raise DeskError(f"A note can have at most {MAX_NOTE} characters.")
    now = utcnow()
    acknowledged = rows_changed(
        update(Order)
        .where(Order.id == order.id, Order.mismatch_acknowledged_at.is_(None))
        .values(mismatch_acknowledged_at=now, mismatch_acknowledged_by=actor, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    if not acknowledged:
        raise DeskError(
            f"The mismatch on order {order.reference} was already acknowledged by "
            f"{order.mismatch_acknowledged_by}."
        )
    order.record(
        "mismatch_acknowledged", actor, note=note,
        total_pence=order.total_pence, charged_pence=order.amount_charged_pence,
    )
    db.session.flush()


def add_note(order: Order, text: str, actor: str) -> None:
    text = (text or "").strip()
    if not text:
        raise DeskError("A note cannot be empty.")
    if len(text) > MAX_NOTE:
        raise DeskError(f"A note can have at most {MAX_NOTE} characters.")
    order.record("note", actor, text=text)
    db.session.flush()
