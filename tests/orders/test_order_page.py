"""The buyer's own order page at /orders/<token>, and its VAT receipt as a PDF (read back with
pypdf, so the tests check what a person would see in it)."""

import html
import io
import re
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from shop.orderlinks import order_id_from, order_token
from shop.orders.models import Order
from shop.timeutil import local
from tests.conftest import (
    ISBN,
    Shopper,
    make_order,
    page_token,
    paid_order_through_stripe,
    pay,
    refund_at_the_desk,
    start_checkout,
)


def reload(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def page_of(app, order) -> str:
    return f"/orders/{order_token(order.id, app.config['SECRET_KEY'])}"


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text)  # a long title wraps inside its cell


def dispatch(staff_client, order, carrier: str, number: str):
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    return staff_client.post(f"/staff/orders/{order.reference}/dispatch",
                             data={"csrf_token": token, "carrier": carrier, "tracking_number": number})


def refund(staff_client, order, amount: str, request_token: str):
    assert refund_at_the_desk(staff_client, order, amount).status_code == 303


def test_the_order_page_shows_the_order_and_stays_private(app, client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    response = Shopper(app.test_client()).client.get(page_of(app, order))  # another browser: the link is enough
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"Your order {order.reference}" in page
    assert "Status: Paid" in page and "We are packing your order" in page
    assert "Leadership and engagement for improvement in the NHS" in page and "978-1-85717-640-7" in page
    assert "£17.00" in page and "£3.95" in page and "£20.95" in page
    assert "1 Ward Street" in page and "LS1 1AA" in page
    assert "Example Publisher Ltd" in page and 'href="mailto:orders@example.org"' in page
    assert f'href="{page_of(app, order)}/receipt.pdf"' in page
    # An address is on it: never kept by a browser or proxy, never indexed, no Referer sent on.
    assert response.headers["Cache-Control"] == "no-store, private"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"] and "Set-Cookie" not in response.headers


def test_a_wrong_or_altered_token_is_404(app, client, sandbox, db, publication):
    order = make_order()
    good = order_token(order.id, app.config["SECRET_KEY"])
    assert client.get(f"/orders/{good}").status_code == 200
    # Not the last character: base64 leaves its low bits unused, so A↔B there can decode to the
    # same signature (this test once failed on a token ending in B).
    altered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
    from itsdangerous import URLSafeSerializer

    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="checkout-cancel").dumps(order.id)
    other_key = order_token(order.id, "another-secret")
    for token in (altered, order.reference, str(order.id), other_salt, other_key, "x" * 300, good + "x"):
        response = client.get(f"/orders/{token}")
        assert response.status_code == 404, token
        assert "We have no order at that address" in response.get_data(as_text=True)
        assert client.get(f"/orders/{token}/receipt.pdf").status_code == 404, token
    assert order_id_from(good, app.config["SECRET_KEY"]) == order.id
    # A token for an order that is not there is no way in either.
    assert client.get(f"/orders/{order_token(order.id + 1000, app.config['SECRET_KEY'])}").status_code == 404


def test_dispatched_with_a_known_carrier_links_to_its_tracking(app, client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    dispatch(staff_client, order, "royal mail", "RR 123/456")  # any case; odd characters quoted
    page = client.get(page_of(app, order)).get_data(as_text=True)
    assert "Status: Dispatched" in page and "with Royal Mail" in page
    assert 'href="https://www.royalmail.com/track-your-item#/tracking-results/RR%20123%2F456"' in page
    assert "expect it by" in page


@pytest.mark.parametrize("carrier, number, url", [
    ("Parcelforce", "PB123", "https://www.parcelforce.com/track-trace?trackNumber=PB123"),
    ("DPD", "15501234567890", "https://track.dpd.co.uk/parcels/15501234567890"),
    ("Evri", "H00A1B2C3D4E5F6", "https://www.evri.com/track/parcel/H00A1B2C3D4E5F6/details"),
])
def test_each_carrier_in_the_table_gets_its_link(app, client, staff_client, db, carrier, number, url):
    order = make_order()
    dispatch(staff_client, order, carrier, number)
    assert f'href="{url}"' in client.get(page_of(app, order)).get_data(as_text=True)


def test_another_carrier_shows_the_plain_number(app, client, staff_client, db):
    order = make_order()
    dispatch(staff_client, order, "An Post", "RR123456785IE")
    page = client.get(page_of(app, order)).get_data(as_text=True)
    assert "with An Post" in page and "<strong>RR123456785IE</strong>" in page
    assert "track-your-item" not in page


def test_a_refund_shows_on_the_page(app, client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    refund(staff_client, order, "8.50", "r1")
    page = client.get(page_of(app, order)).get_data(as_text=True)
    assert "Status: Partly refunded" in page and "£8.50 has been refunded to the card or account you paid with" in page
    refund(staff_client, order, "12.45", "r2")
    page = client.get(page_of(app, order)).get_data(as_text=True)
    assert "Status: Refunded" in page and "the whole order" in page


def test_a_cancellation_whose_refund_is_pending_says_nothing_will_be_sent(app, client, staff_client, sandbox, db,
                                                                          publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/config", pending_refunds=True)  # a bank payment's refund takes days
    page = staff_client.get(f"/staff/orders/{order.reference}/cancel").get_data(as_text=True)
    data = {"csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}/cancel"),
            "request_token": re.search(r'name="request_token" type="hidden" value="([0-9a-f]+)"', page).group(1),
            "reason": "customer_request"}
    assert staff_client.post(f"/staff/orders/{order.reference}/cancel", data=data).status_code == 303
    assert reload(db, order).status == "paid"
    page = html.unescape(client.get(page_of(app, order)).get_data(as_text=True))
    assert "Status: Cancelled" in page and "This order is cancelled: nothing will be sent." in page
    assert "A refund of £20.95 is on its way to the card or bank account you paid with." in page
    assert "We are packing your order" not in page


def test_an_unpaid_checkout_has_a_page_but_no_receipt(app, client, db):
    order = make_order(status="expired")
    page = client.get(page_of(app, order)).get_data(as_text=True)
    assert "closed without a payment" in page and "receipt.pdf" not in page
    assert client.get(page_of(app, order) + "/receipt.pdf").status_code == 404


def test_the_success_page_says_where_the_confirmation_went_and_when_to_expect_delivery(app, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=1)
    pay(sandbox, session_id)
    response = shopper.client.get(f"/checkout/success?session_id={session_id}")
    page = response.get_data(as_text=True)
    assert "We are emailing a confirmation to <strong>nurse@example.org</strong>" in page
    assert "usually takes 2 to 5 working days: expect your copies between" in page
    order = db.session.scalar(db.select(Order))
    assert f'href="{page_of(app, order)}"' in page
    assert response.headers["Cache-Control"] == "no-store, private"
    assert shopper.client.get(page_of(app, order)).status_code == 200


def test_the_vat_receipt_has_every_fact(app, client, staff_client, sandbox, db, publication):
    app.config.update(SELLER_VAT_NUMBER="GB 123 4567 89", SELLER_REGISTRATION="Registered charity 1234567")
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    refund(staff_client, order, "3.95", "postage-back")
    order = reload(db, order)
    response = client.get(page_of(app, order) + "/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store, private"
    assert f'filename="receipt-{order.reference}.pdf"' in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    for fact in [
        "VAT receipt",
        "Example Publisher Ltd", "1 Example Street", "EX0 0EX", "orders@example.org",
        "VAT registration number: GB 123 4567 89", "Registered charity 1234567",
        f"Receipt number {order.reference}",
        "Date paid (tax point) " + local(order.paid_at).strftime("%-d %B %Y"),
        "Ada Nurse", "nurse@example.org", "1 Ward Street",
        "Leadership and engagement for improvement in the NHS", f"ISBN {ISBN}",
        "£8.50", "£17.00",  # the unit price, and the line (2 copies)
        "Postage to UK, Channel Islands and Isle of Man", "£3.95", "0%",
        "Total paid £20.95", "Refunded −£3.95", "Net paid £17.00",
        "zero-rated", "postage", "follows the rate of the goods",
        f"Payment reference: {order.payment_intent_id}",
    ]:
        assert fact in text, fact
    [stripe_refund] = order.refunds
    assert f"£3.95 refunded (Stripe reference {stripe_refund.stripe_refund_id})" in text


def test_without_a_vat_number_it_is_a_receipt_and_names_none(app, client, db):
    order = make_order(name="Zoë Ødegård-Łukasz")  # not Latin-1: the embedded font has it
    text = pdf_text(client.get(page_of(app, order) + "/receipt.pdf").data)
    assert text.lstrip().startswith("Receipt") and "VAT registration number" not in text
    assert "Zoë Ødegård-Łukasz" in text
    # A seller not registered for VAT shows no VAT rates, amounts or reasons.
    assert "VAT" not in text and "0%" not in text and "zero-rated" not in text
    assert "Date paid " + local(order.paid_at).strftime("%-d %B %Y") in text


def test_a_receipt_is_the_same_whenever_it_is_downloaded_and_shows_a_mismatch(app, client, db):
    order = make_order()
    order.amount_mismatch, order.amount_charged_pence = True, order.total_pence - 100
    db.session.commit()
    first = pdf_text(client.get(page_of(app, order) + "/receipt.pdf").data)
    with freeze_time(datetime(2031, 1, 1, tzinfo=UTC)):
        later = pdf_text(client.get(page_of(app, order) + "/receipt.pdf").data)
    assert first == later
    total = order.total_pence
    assert f"Order total £{total / 100:.2f}" in first and f"Total paid £{(total - 100) / 100:.2f}" in first


def test_staff_download_the_same_receipt(app, client, staff_client, db):
    order = make_order()
    response = staff_client.get(f"/staff/orders/{order.reference}/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert order.reference in pdf_text(response.data)
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert f"/staff/orders/{order.reference}/receipt.pdf" in page and page_of(app, order) in page
    assert client.get(f"/staff/orders/{order.reference}/receipt.pdf").status_code in (302, 401)
    unpaid = make_order(status="pending_payment", created_at=datetime(2026, 1, 2, tzinfo=UTC))
    assert staff_client.get(f"/staff/orders/{unpaid.reference}/receipt.pdf").status_code == 404


def test_a_preorder_page_says_when_each_title_is_expected_not_the_usual_delivery(app, client, db):
    """A paid pre-order waits for its title: the page gives the line's date and says the order
    goes out whole, and promises no 2-5 working days from payment."""
    from datetime import timedelta

    from shop.catalogue.availability import long_date
    from shop.timeutil import local_today

    soon = local_today() + timedelta(days=60)
    order = make_order()
    line = order.lines[0]
    line.sold_as, line.awaiting_stock, line.expected_on = "preorder", True, soon
    db.session.commit()
    page = html.unescape(client.get(page_of(app, order)).get_data(as_text=True))
    assert f"Pre-order: expected {long_date(soon)}" in re.sub(r"<[^>]+>", "", page)
    assert "We post the whole order in one parcel when every title in it has arrived" in page
    assert "We are packing your order" not in page and "usually takes" not in page


def test_a_bank_payment_still_processing_is_not_called_closed(app, client, db):
    order = make_order(status="payment_processing")
    page = client.get(page_of(app, order)).get_data(as_text=True)
    assert "Your bank payment is being processed" in page and "closed without a payment" not in page
