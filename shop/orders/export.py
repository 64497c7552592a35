"""Orders as CSV, one row per order line, streamed: rows are fetched in batches and written as
they come, so memory stays flat however many orders match."""

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from shop.extensions import db
from shop.money import decimal_pounds
from shop.orders.desk import OrderFilters, filtered_orders
from shop.orders.models import Order, OrderInvoice, OrderLine
from shop.spreadsheet import defuse
from shop.timeutil import local

HEADER = [
    "order_reference", "created", "paid", "dispatched", "status", "customer_name", "customer_email",
    "ship_name", "ship_line1", "ship_line2", "ship_city", "ship_state", "ship_postal_code",
    "ship_country", "isbn", "title", "quantity", "unit_price", "line_total", "postage",
    "order_total", "refunded", "carrier", "tracking_number",
    # A promotion code's discount (what the buyer paid is order_total less discount), how the
    # order is paid, and an invoice order's organisation, purchase order and invoice number.
    "discount", "promotion_code", "paid_by", "organisation", "po_number", "invoice_number",
]
# Excel reads a CSV as UTF-8 only when it starts with a byte order mark; other programs are
# better without one, so it is asked for (``excel=True``).
BOM = "\ufeff"
BATCH = 2000


def _pounds(pence: int | None) -> str:
    return "" if pence is None else decimal_pounds(pence)


def _when(moment) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


COLUMNS = (
    Order.reference, Order.created_at, Order.paid_at, Order.dispatched_at, Order.status,
    Order.customer_name, Order.customer_email, Order.ship_name, Order.ship_line1, Order.ship_line2,
    Order.ship_city, Order.ship_state, Order.ship_postal_code, Order.ship_country, OrderLine.isbn,
    OrderLine.title, OrderLine.quantity, OrderLine.unit_price_pence, Order.postage_pence,
    Order.total_pence, Order.refunded_pence, Order.carrier, Order.tracking_number,
    Order.discount_pence, Order.promotion_code, Order.pays_by, OrderInvoice.organisation,
    OrderInvoice.po_number, OrderInvoice.number,
)


def order_lines_csv(filters: OrderFilters, excel: bool = False) -> Iterator[str]:
    """Yield the CSV text in chunks: the header, then a chunk per batch of rows; with ``excel``,
    a byte order mark first.

    Plain column tuples, not ORM objects, so nothing accumulates in the session's identity map;
    the database cursor streams (server-side on PostgreSQL) in batches of ``BATCH``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if excel:
        buffer.write(BOM)
    writer.writerow(HEADER)
    matching = filtered_orders(filters).with_only_columns(Order.id)
    statement = (
        select(*COLUMNS)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .outerjoin(OrderInvoice, OrderInvoice.order_id == Order.id)
        .where(Order.id.in_(matching))
        .order_by(Order.created_at.desc(), Order.id.desc(), OrderLine.id)
        .execution_options(yield_per=BATCH, stream_results=True)
    )
    for count, row in enumerate(db.session.execute(statement), start=1):
        (reference, created, paid, dispatched, status, name, email, ship_name, line1, line2, city,
         state, postcode, country, isbn, title, quantity, unit_price, postage, total, refunded,
         carrier, tracking, discount, code, pays_by, organisation, po_number, invoice_number) = row
        writer.writerow(
            defuse(value)  # customers' names and addresses must stay text in a spreadsheet
            for value in (
                reference, _when(created), _when(paid), _when(dispatched), status, name, email,
                ship_name, line1, line2, city, state, postcode, country, isbn, title, quantity,
                _pounds(unit_price), _pounds(unit_price * quantity), _pounds(postage),
                _pounds(total), _pounds(refunded), carrier, tracking,
                _pounds(discount), code, pays_by, organisation, po_number, invoice_number,
            )
        )
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
