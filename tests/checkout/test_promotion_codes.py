"""Promotion codes at Stripe Checkout (STRIPE_ALLOW_PROMOTION_CODES=1): the session lets the buyer
enter one, the order records the discount Stripe applied, the amount check allows for it (no
false mismatch, a real one still flagged), and the desk, receipt, email and export show it."""

import csv
import html
import io

import pytest
import stripe
from pypdf import PdfReader
from sqlalchemy import select

from shop.orders.fulfilment import fulfil_checkout
from shop.orders.models import Order, OrderEvent
from shop.payments.gateway import CheckoutPayment
from tests.conftest import deliver_event, make_order, pay, start_checkout


def stripe_client(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_dashboard", base_addresses={"api": sandbox.url}, max_network_retries=0)


def make_code(sandbox, code: str = "NHSTEAM", **coupon) -> None:
    """What staff do in Stripe's dashboard: a coupon and a promotion code for it."""
    client = stripe_client(sandbox)
    made = client.v1.coupons.create(params=coupon or {"percent_off": 10, "duration": "once", "name": "Teams"})
    client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": made.id}, "code": code})


def order_of(db, session_id) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


@pytest.fixture
def codes_allowed(app):
    app.config["STRIPE_ALLOW_PROMOTION_CODES"] = True


def test_a_promotion_code_discount_is_recorded_without_an_amount_mismatch(
    codes_allowed, client, shopper, sandbox, staff_client, db, publication
):
    make_code(sandbox)
    session_id = start_checkout(shopper, sandbox, quantity=4)  # 4 × £8.50 + £6.95 postage
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    assert request["params"]["allow_promotion_codes"] == "true"
    [event_id] = pay(sandbox, session_id, promotion_code="nhsteam")  # codes are not case-sensitive
    assert deliver_event(client, sandbox, event_id).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "paid" and not order.amount_mismatch
    assert (order.total_pence, order.discount_pence, order.amount_charged_pence) == (4095, 340, 3755)
    assert order.promotion_code == "NHSTEAM" and order.payable_pence == 3755
    # The desk, the export, the receipt and the email say so.
    page = html.unescape(staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True))
    assert "NHSTEAM: −£3.40, so £37.55 to pay" in page
    [row] = csv.DictReader(io.StringIO(staff_client.get("/staff/orders.csv").get_data(as_text=True)))
    assert (row["discount"], row["promotion_code"], row["order_total"]) == ("3.40", "NHSTEAM", "40.95")
    receipt = staff_client.get(f"/staff/orders/{order.reference}/receipt.pdf").data
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt)).pages)
    assert "Promotion code NHSTEAM" in text and "£3.40" in text and "£37.55" in text
    confirmation = db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind="paid")).one()
    assert confirmation.detail["discount_pence"] == 340
    from shop.emails.models import OutboxEmail

    [email] = db.session.scalars(select(OutboxEmail).filter_by(order_id=order.id, kind="confirmation")).all()
    assert "Promotion code NHSTEAM: -£3.40" in email.text_body and "Total paid: £37.55" in email.text_body


def test_without_the_setting_the_session_takes_no_code(client, shopper, sandbox, db, publication):
    make_code(sandbox)
    session_id = start_checkout(shopper, sandbox, quantity=2)
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    assert "allow_promotion_codes" not in request["params"]
    response = sandbox_complete(sandbox, session_id, promotion_code="NHSTEAM")
    assert response.status_code == 400 and "does not accept promotion codes" in response.text
    assert order_of(db, session_id).status == "pending_payment"


def sandbox_complete(sandbox, session_id, **body):
    import requests

    return requests.post(f"{sandbox.url}/_sandbox/sessions/{session_id}/complete", json=body, timeout=10)


def test_a_code_stripe_would_refuse_is_refused(codes_allowed, client, shopper, sandbox, db, publication):
    make_code(sandbox, "BIGORDERS", amount_off=500, currency="gbp", duration="once")
    client_ = stripe_client(sandbox)
    coupon = client_.v1.coupons.create(params={"percent_off": 50, "duration": "once"})
    client_.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "OVER100",
                                              "restrictions": {"minimum_amount": 10000, "minimum_amount_currency": "gbp"}})
    session_id = start_checkout(shopper, sandbox, quantity=2)
    assert "This code is invalid." in sandbox_complete(sandbox, session_id, promotion_code="NOSUCH").text
    assert "can't be used for an order of this amount" in sandbox_complete(
        sandbox, session_id, promotion_code="OVER100").text
    [event_id] = pay(sandbox, session_id, promotion_code="BIGORDERS")
    deliver_event(client, sandbox, event_id)
    order = order_of(db, session_id)
    assert (order.discount_pence, order.amount_charged_pence, order.amount_mismatch) == (500, 1700 + 395 - 500, False)


def test_a_charge_the_discount_does_not_explain_is_still_flagged(codes_allowed, client, shopper, sandbox, db,
                                                                publication):
    make_code(sandbox)
    session_id = start_checkout(shopper, sandbox, quantity=4)
    [event_id] = pay(sandbox, session_id, promotion_code="NHSTEAM", amount_total=100)
    deliver_event(client, sandbox, event_id)
    order = order_of(db, session_id)
    assert order.amount_mismatch and order.discount_pence == 340
    mismatch = db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind="amount_mismatch")).one()
    assert (mismatch.detail["expected_pence"], mismatch.detail["charged_pence"]) == (3755, 100)


def test_nothing_to_pay_is_right_when_a_code_took_off_the_whole_total(db, app, sandbox):
    """Checkout's no_payment_required: a mismatch unless a promotion code covered the total."""
    covered = make_order(status="pending_payment", postage_pence=0)
    uncovered = make_order(status="pending_payment")
    for order, session in ((covered, "cs_test_covered"), (uncovered, "cs_test_uncovered")):
        order.stripe_session_id = session
    db.session.commit()
    with app.test_request_context():
        for order, discount in ((covered, covered.total_pence), (uncovered, 0)):
            fulfil_checkout(CheckoutPayment(
                session_id=order.stripe_session_id, status="complete", payment_status="no_payment_required",
                amount_total=0, currency="gbp", amount_discount=discount, promotion_code="FREECOPY" if discount else None,
            ))
        db.session.commit()
    db.session.expire_all()
    covered, uncovered = db.session.get(Order, covered.id), db.session.get(Order, uncovered.id)
    assert covered.status == uncovered.status == "paid"
    assert not covered.amount_mismatch and covered.discount_pence == covered.total_pence
    assert uncovered.amount_mismatch
