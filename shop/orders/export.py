"""Orders as CSV, one row per order line, streamed: rows are fetched in batches and written as
they come, so memory stays flat however many orders match."""

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from shop.extensions import db
from shop.orders.desk import OrderFilters, filtered_orders
from shop.orders.models import Order, OrderLine
from shop.timeutil import local

HEADER = [
    "order_reference", "created", "paid", "dispatched", "status", "customer_name", "customer_email",
    "ship_name", "ship_line1", "ship_line2", "ship_city", "ship_state", "ship_postal_code",
    "ship_country", "isbn", "title", "quantity", "unit_price", "line_total", "postage",
    "order_total", "refunded",
]
# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000


def safe_cell(value: object) -> object:
    """Defuse spreadsheet formula injection: prefix a quote to text that would be a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _pounds(pence: int | None) -> str:
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def _when(moment) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def order_lines_csv(filters: OrderFilters) -> Iterator[str]:
    """Yield the CSV text in chunks: the header, then a chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    matching = filtered_orders(filters).with_only_columns(Order.id).subquery()
    statement = (
        select(Order, OrderLine)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.id.in_(select(matching.c.id)))
        .order_by(Order.created_at.desc(), Order.id.desc(), OrderLine.id)
        .execution_options(yield_per=BATCH, stream_results=True)
    )
    for count, (order, line) in enumerate(db.session.execute(statement), start=1):
        writer.writerow(
            safe_cell(value)
            for value in (
                order.reference, _when(order.created_at), _when(order.paid_at),
                _when(order.dispatched_at), order.status, order.customer_name, order.customer_email,
                order.ship_name, order.ship_line1, order.ship_line2, order.ship_city,
                order.ship_state, order.ship_postal_code, order.ship_country, line.isbn, line.title,
                line.quantity, _pounds(line.unit_price_pence), _pounds(line.line_total_pence),
                _pounds(order.postage_pence), _pounds(order.total_pence),
                _pounds(order.refunded_pence),
            )
        )
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            db.session.expunge_all()  # yield_per keeps no rows; the identity map would
    yield buffer.getvalue()
