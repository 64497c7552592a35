"""What the browser tests share: the customer's details, the cards, and what to check in the
database after each payment attempt."""

from __future__ import annotations

import re

from sqlalchemy import select

from shop.orders.models import Order

DECLINED_CARD = "4000 0000 0000 0002"
GOOD_CARD = "4242 4242 4242 4242"
EXPIRY = "12/39"
CVC = "123"
CUSTOMER = {
    "email": "aoife.nurse@example.org",
    "name": "Aoife Nurse",
    "line1": "1 Grafton Street",
    "city": "Dublin",
    "postal_code": "D02 X285",
    "country": "IE",
    "country_name": "Ireland",
}
REFERENCE = re.compile(r"KF-\d{4}-\d{6}")
# Three copies at £8.50, posted to Europe (the 2–3 copies band).
SUBTOTAL, POSTAGE, TOTAL = "£25.50", "£10.50", "£36.00"


def fill_payment_page(page, card: str) -> None:
    """Fill in the sandbox's payment page (Playwright's fill and select, not keystrokes)."""
    page.get_by_label("Email address").fill(CUSTOMER["email"])
    page.get_by_label("Full name").fill(CUSTOMER["name"])
    page.get_by_label("Address line 1").fill(CUSTOMER["line1"])
    page.get_by_label("Town or city").fill(CUSTOMER["city"])
    page.get_by_label("Postcode").fill(CUSTOMER["postal_code"])
    page.get_by_label("Country").select_option(CUSTOMER["country"])
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry date").fill(EXPIRY)
    page.get_by_label("Security code").fill(CVC)


def the_order(db) -> Order:
    """The one order in the database, as it is now."""
    db.session.expire_all()
    orders = db.session.scalars(select(Order)).all()
    assert len(orders) == 1, [(o.reference, o.status) for o in orders]
    return orders[0]


def assert_nothing_recorded(db, sandbox) -> None:
    """After a declined card: no payment at Stripe, none in the shop."""
    assert sandbox.events("checkout.session.completed") == []
    order = the_order(db)
    assert order.status == "pending_payment"
    assert order.paid_at is None and order.amount_charged_pence is None
    assert order.payment_intent_id is None


def assert_paid(db, reference: str, copies: int = 3) -> Order:
    order = the_order(db)
    assert order.reference == reference
    assert order.status == "paid"
    assert order.copies == copies
    assert order.amount_charged_pence == order.total_pence == 3600
    assert order.ship_country == CUSTOMER["country"]
    return order
