"""Figures for the staff dashboard: what was sold, what waits, what is low."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select

from shop.catalogue.models import Publication
from shop.extensions import db
from shop.orders.models import Order, OrderLine
from shop.orders.status import DISPATCHABLE, PLACED
from shop.timeutil import period_starts


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
    stock: list[Publication]
    low_stock_threshold: int
    sales: list[tuple[str, str, int, int]]  # isbn, title, copies, revenue in pence


def dashboard(now: datetime, low_stock_threshold: int, overdue_days: int) -> Dashboard:
    """Figures over paid orders (revenue is what Stripe charged, less refunds)."""
    starts = period_starts(now)
    periods = {}
    for name, start in starts.items():
        row = db.session.execute(
            select(
                func.count(Order.id),
                func.coalesce(func.sum(Order.copies), 0),
                func.coalesce(func.sum(Order.amount_charged_pence - Order.refunded_pence), 0),
            ).where(Order.status.in_(PLACED), Order.paid_at >= start)
        ).one()
        periods[name] = PeriodFigures(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))
    waiting_line = exists().where(OrderLine.order_id == Order.id, OrderLine.awaiting_stock.is_(True))
    to_pack = (Order.status.in_(DISPATCHABLE), Order.dispatched_at.is_(None))
    awaiting = db.session.scalar(select(func.count(Order.id)).where(*to_pack, ~waiting_line))
    overdue = db.session.scalar(
        select(func.count(Order.id)).where(
            *to_pack, ~waiting_line, Order.paid_at < now - timedelta(days=overdue_days)
        )
    )
    waiting = db.session.scalar(select(func.count(Order.id)).where(*to_pack, waiting_line))
    stock = list(
        db.session.scalars(
            select(Publication)
            .where(Publication.on_sale.is_(True))
            .order_by(Publication.stock, Publication.title)
            .limit(50)
        )
    )
    sales = [
        (row.isbn, row.title, int(row.copies), int(row.revenue))
        for row in db.session.execute(
            select(
                OrderLine.isbn,
                func.max(OrderLine.title).label("title"),
                func.sum(OrderLine.quantity).label("copies"),
                func.sum(OrderLine.quantity * OrderLine.unit_price_pence).label("revenue"),
            )
            .join(Order, and_(Order.id == OrderLine.order_id))
            .where(Order.status.in_(PLACED))
            .group_by(OrderLine.isbn)
            .order_by(func.sum(OrderLine.quantity).desc())
            .limit(50)
        )
    ]
    return Dashboard(
        periods, awaiting or 0, overdue or 0, waiting or 0, stock, low_stock_threshold, sales
    )
