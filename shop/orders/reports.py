"""Figures for the staff dashboard: what was sold, what waits, what is low.

A fully refunded order is not a sale: orders and copies count paid and dispatched orders only;
revenue is what Stripe charged less what was refunded, over every order that was paid."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select

from shop.catalogue.models import Publication
from shop.extensions import db
from shop.orders.desk import (
    TO_PACK,
    WAITING_LINE,
    ListedOrder,
    OrderFilters,
    flagged,
    overdue_before,
    search_orders,
    to_pack,
)
from shop.orders.models import Order, OrderLine
from shop.orders.status import DISPATCHABLE, PLACED, SOLD
from shop.timeutil import local, period_starts, start_of_local_day

CHART_DAYS = 90
TITLES_CHARTED = 15
ATTENTION_ROWS = 10


@dataclass
class PeriodFigures:
    orders: int
    copies: int
    revenue_pence: int


@dataclass
class Dashboard:
    periods: dict[str, PeriodFigures]
    awaiting_dispatch: int  # ready to pack: no line waiting for stock
    overdue_dispatch: int
    waiting_for_stock: int  # paid, but a pre-ordered or back-ordered line waits for copies
    stock: list[Publication]  # on sale and at or below the threshold, fewest first
    low_stock_threshold: int
    sales: list[tuple[str, str, int, int]]  # isbn, title, copies, revenue in pence
    to_pack_first: list[ListedOrder]  # the head of the "to pack" view: flagged first
    flagged_to_pack: int
    daily: list[tuple[date, int]]  # copies sold per local day, oldest first, CHART_DAYS of them


def _hour(column) -> ColumnElement:
    """The UTC hour of a timestamp, in SQL. UK time differs from UTC by whole hours, so hours
    summed into local days in Python give exact local days on both databases."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d %H:00:00", column)


def copies_per_day(now: datetime, days: int = CHART_DAYS) -> list[tuple[date, int]]:
    """Copies in orders sold (not fully refunded), by UK day of payment, for the last ``days``
    days including today; days without a sale are there with 0."""
    today = local(now).date()
    first = today - timedelta(days=days - 1)
    rows = db.session.execute(
        select(_hour(Order.paid_at).label("hour"), func.sum(Order.copies))
        .where(Order.status.in_(SOLD), Order.paid_at >= start_of_local_day(first))
        .group_by("hour")
    )
    totals = {first + timedelta(days=n): 0 for n in range(days)}
    for hour, copies in rows:
        moment = hour if isinstance(hour, datetime) else datetime.fromisoformat(hour)
        day = local(moment.replace(tzinfo=UTC)).date()
        if day in totals:
            totals[day] += int(copies or 0)
    return sorted(totals.items())


def copies_by_title(limit: int | None = None) -> list[tuple[str, str, int, int]]:
    """ISBN, title, copies and takings of each title in orders sold, most copies first."""
    statement = (
        select(
            OrderLine.isbn,
            func.max(OrderLine.title).label("title"),
            func.sum(OrderLine.quantity).label("copies"),
            func.sum(OrderLine.quantity * OrderLine.unit_price_pence).label("revenue"),
        )
        .join(Order, and_(Order.id == OrderLine.order_id))
        .where(Order.status.in_(SOLD))
        .group_by(OrderLine.isbn)
        .order_by(func.sum(OrderLine.quantity).desc(), OrderLine.isbn)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [(row.isbn, row.title, int(row.copies), int(row.revenue)) for row in db.session.execute(statement)]


def dashboard(now: datetime, low_stock_threshold: int, overdue_days: int) -> Dashboard:
    """Orders and copies sold (paid or dispatched, not fully refunded) and revenue net of
    refunds (over every paid order, so a refund takes its amount off), by payment date."""
    starts = period_starts(now)
    periods = {}
    for name, start in starts.items():
        row = db.session.execute(
            select(
                func.count(Order.id).filter(Order.status.in_(SOLD)),
                func.coalesce(func.sum(Order.copies).filter(Order.status.in_(SOLD)), 0),
                func.coalesce(func.sum(Order.amount_charged_pence - Order.refunded_pence), 0),
            ).where(Order.status.in_(PLACED), Order.paid_at >= start)
        ).one()
        periods[name] = PeriodFigures(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))
    awaiting = db.session.scalar(select(func.count(Order.id)).where(to_pack()))
    overdue_cutoff = overdue_before(now, overdue_days)
    overdue = db.session.scalar(select(func.count(Order.id)).where(to_pack(), Order.paid_at <= overdue_cutoff))
    flagged_count = db.session.scalar(select(func.count(Order.id)).where(to_pack(), flagged(overdue_cutoff)))
    waiting = db.session.scalar(
        select(func.count(Order.id)).where(
            Order.status.in_(DISPATCHABLE), Order.dispatched_at.is_(None), WAITING_LINE
        )
    )
    stock = list(
        db.session.scalars(
            select(Publication)
            .where(Publication.on_sale.is_(True), Publication.stock <= low_stock_threshold)
            .order_by(Publication.stock, Publication.title)
            .limit(50)
        )
    )
    head = search_orders(OrderFilters(status=TO_PACK), 1, ATTENTION_ROWS, now, overdue_days).orders
    return Dashboard(
        periods, awaiting or 0, overdue or 0, waiting or 0, stock, low_stock_threshold,
        copies_by_title(50), head, flagged_count or 0, copies_per_day(now),
    )
