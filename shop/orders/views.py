"""A buyer's own order page, ``/orders/<token>``, and its VAT receipt as a PDF.

The token is the signed order id (``shop.orderlinks``): a wrong or altered one answers 404, like
an order that does not exist. The page shows a delivery address, so it is never stored by a
browser or a proxy (``no-store``), never indexed, and sends no Referer to the links it has."""

from flask import Blueprint, abort, current_app, make_response, render_template

from shop import delivery
from shop.carriers import known_carrier, tracking_url
from shop.extensions import db
from shop.orderlinks import order_id_from, order_token
from shop.orders import buyer
from shop.orders.models import Order
from shop.orders.receipt import build_receipt, receipt_number
from shop.seller import seller_from_config
from shop.timeutil import local

bp = Blueprint("orders", __name__, url_prefix="/orders")

PRIVATE_HEADERS = {
    "Cache-Control": "no-store, private",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _order_or_404(token: str) -> Order:
    order_id = order_id_from(token, current_app.config["SECRET_KEY"])
    order = db.session.get(Order, order_id) if order_id is not None else None
    if order is None:
        abort(404, description="We have no order at that address. Check the link in your email.")
    return order


def delivery_window(order: Order, days):
    """When the copies should arrive: counted from dispatch once they have gone, else from
    payment; None while a pre-order or back-order waits for copies (its lines say when)."""
    if order.dispatched_at is not None:
        return delivery.expected_between(local(order.dispatched_at).date(), days)
    if order.paid_at is None or order.awaiting_stock:
        return None
    return delivery.expected_between(local(order.paid_at).date(), days)


def region_label(order: Order) -> str:
    return current_app.config["POSTAGE_REGIONS"].get(order.region, {}).get("label", order.region)


def _private(response):
    response.headers.update(PRIVATE_HEADERS)
    return response


@bp.get("/<token>")
def show(token: str):
    order = _order_or_404(token)
    config = current_app.config
    days = delivery.estimate(config["DELIVERY_ESTIMATES"], order.region)
    expected = delivery_window(order, days)
    body = render_template(
        "orders/show.html",
        order=order,
        token=token,
        region_label=region_label(order),
        estimate=delivery.describe(days),
        expected=expected,
        carrier=known_carrier(order.carrier, config["CARRIERS"]) or order.carrier,
        tracking_url=tracking_url(order.carrier, order.tracking_number, config["CARRIERS"]),
        covers=buyer.line_publications(order),
    )
    return _private(make_response(body))


@bp.get("/<token>/receipt.pdf")
def receipt(token: str):
    order = _order_or_404(token)
    if not order.is_paid:
        abort(404, description="This order has not been paid, so it has no receipt yet.")
    return _private(receipt_response(order))


def receipt_response(order: Order):
    """The receipt as a PDF download (shared with the staff desk)."""
    pdf = build_receipt(order, seller_from_config(current_app.config), region_label(order))
    response = make_response(pdf)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="receipt-{receipt_number(order)}.pdf"'
    return response


def order_page_path(order: Order) -> str:
    return f"{bp.url_prefix}/{order_token(order.id, current_app.config['SECRET_KEY'])}"
