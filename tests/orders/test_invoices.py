"""Organisations paying by invoice, against the Stripe sandbox: from the basket to a Stripe
invoice (customer, PO number in the custom fields, due date, lines and postage), sent by
Stripe; dispatched before payment; paid once however often and however concurrently Stripe
says so; voided (copies back), overdue and failed payments flagged, uncollectible; approval by
staff; Stripe down and the retry; reconciliation; the refusals, with every field kept."""

import csv
import html
import io
import re
from datetime import timedelta

import requests
from pypdf import PdfReader
from sqlalchemy import func, select

from sandbox import sign_payload
from shop.catalogue.models import Publication
from shop.catalogue.rules import PriceBreak
from shop.emails.models import (
    INVOICE_CANCELLED,
    INVOICE_ISSUED,
    INVOICE_PAID,
    INVOICE_REQUESTED,
    OutboxEmail,
)
from shop.orders.models import Order, OrderEvent
from tests.conftest import (
    ISBN,
    STAFF_EMAIL,
    WEBHOOK_SECRET,
    Shopper,
    deliver_event,
    make_publication,
    page_token,
)
from tests.support import csrf_token, race

ORGANISATION = {
    "organisation": "Leeds Teaching Hospitals NHS Trust",
    "po_number": "PO-0045123/A",
    "contact_name": "Priya Patel",
    "contact_email": "priya.patel@example.org",
    "finance_email": "Accounts.Payable@example.org",
    "billing_line1": "St James's University Hospital",
    "billing_line2": "Beckett Street",
    "billing_city": "Leeds",
    "billing_postcode": "ls9 7tf",
    "billing_country": "GB",
    "delivery_name": "Library and Knowledge Service",
    "delivery_line1": "Clinical Sciences Building",
    "delivery_line2": "",
    "delivery_city": "Leeds",
    "delivery_postcode": "LS9 7TF",
    "delivery_country": "GB",
}
TOKEN = re.compile(r'name="request_token" type="hidden" value="([0-9a-f]+)"')


def priced_publication(**changes) -> Publication:
    """The first title, £8.50, with volume prices: 10+ £7.50, 50+ £6.00."""
    fields = {"price_breaks": (PriceBreak(10, 750), PriceBreak(50, 600)), **changes}
    return make_publication(**fields)


def form_fields(shopper) -> dict:
    page = shopper.client.get("/checkout/invoice").get_data(as_text=True)
    return {"csrf_token": csrf_token(page), "request_token": TOKEN.search(page).group(1)}


def order_by_invoice(shopper, quantity: int = 10, **changes):
    """Fill the basket and send the invoice form; the response to the POST."""
    shopper.add(quantity=quantity)
    data = {**ORGANISATION, **form_fields(shopper), **changes}
    return shopper.client.post("/checkout/invoice", data=data)


def only_order(db) -> Order:
    db.session.expire_all()
    [order] = db.session.scalars(select(Order)).all()
    return order


def stock(db, isbn: str = ISBN) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Publication.stock).filter_by(isbn=isbn))


def emails(db, order, kind: str) -> list[OutboxEmail]:
    return list(db.session.scalars(select(OutboxEmail).filter_by(order_id=order.id, kind=kind)))


def events(db, order, kind: str) -> int:
    return db.session.scalar(select(func.count()).select_from(OrderEvent).filter_by(order_id=order.id, kind=kind))


def stripe_invoice(sandbox, order) -> dict:
    return sandbox.get(f"/_sandbox/invoices/{order.invoice.stripe_invoice_id}")


def desk(staff_client, order, action: str, follow_redirects: bool = False, **data):
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    form = page[page.index(f'action="/staff/orders/{order.reference}/invoice/{action}"'):]
    form = form[: form.index("</form>")]
    fields = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', form))
    fields.update(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', form))
    fields.setdefault("csrf_token", csrf_token(page))
    return staff_client.post(f"/staff/orders/{order.reference}/invoice/{action}", data={**fields, **data},
                             follow_redirects=follow_redirects)


# --- from the basket to a Stripe invoice ----------------------------------------------------------

def test_an_invoice_order_from_basket_to_a_stripe_invoice(client, shopper, sandbox, db):
    priced_publication()
    response = order_by_invoice(shopper, quantity=10)
    assert response.status_code == 303 and response.headers["Location"].endswith("/checkout/invoice/sent")
    order = only_order(db)
    invoice = order.invoice
    assert (order.status, order.pays_by) == ("invoiced", "invoice")
    # The volume price applied, from the database: 10 copies at £7.50, UK postage for 10.
    [line] = order.lines
    assert (line.quantity, line.unit_price_pence) == (10, 750)
    assert (order.subtotal_pence, order.postage_pence, order.total_pence) == (7500, 695, 8195)
    assert (order.customer_name, order.customer_email) == ("Priya Patel", "priya.patel@example.org")
    assert (order.ship_name, order.ship_line1, order.ship_postal_code) == (
        "Library and Knowledge Service", "Clinical Sciences Building", "LS9 7TF")
    assert (invoice.organisation, invoice.po_number) == ("Leeds Teaching Hospitals NHS Trust", "PO-0045123/A")
    assert invoice.finance_email == "accounts.payable@example.org"
    assert invoice.billing_postal_code == "LS9 7TF"
    assert stock(db) == 90  # held until paid, voided or declined

    at_stripe = stripe_invoice(sandbox, order)
    assert at_stripe["collection_method"] == "send_invoice" and at_stripe["status"] == "open"
    assert {"name": "Purchase order", "value": "PO-0045123/A"} in at_stripe["custom_fields"]
    assert {"name": "Order reference", "value": order.reference} in at_stripe["custom_fields"]
    assert at_stripe["metadata"]["order_reference"] == order.reference
    assert at_stripe["due_date"] - at_stripe["created"] == 30 * 86400
    assert at_stripe["auto_advance"] is False and at_stripe["_sent"] == 1  # sent by Stripe, once
    lines = [(item["description"], item["quantity"], item["amount"]) for item in at_stripe["_lines"]]
    assert lines == [
        ("Leadership and engagement for improvement in the NHS: Together we can (print copy, ISBN "
         "978-1-85717-640-7)", 10, 7500),
        ("Postage to UK, Channel Islands and Isle of Man (10 copies)", 1, 695),
    ]
    assert at_stripe["total"] == order.total_pence == 8195
    assert "No VAT is charged." in at_stripe["footer"] and "Example Publisher Ltd" in at_stripe["footer"]
    assert at_stripe["shipping_details"]["name"] == "Library and Knowledge Service"
    # Payable by card or by bank transfer into the customer's own account, which Stripe matches.
    assert at_stripe["payment_settings"]["payment_method_types"] == ["card", "customer_balance"]
    [created] = sandbox.requests_to("/v1/customers")  # the organisation, by its finance email
    assert created["params"]["email"] == "accounts.payable@example.org"
    assert (invoice.number, invoice.stripe_status) == (at_stripe["number"], "open")
    assert invoice.hosted_url.startswith(sandbox.url + "/invoice/") and invoice.pdf_url.endswith("/pdf")
    assert invoice.due_at is not None and invoice.sent_at is not None

    page = client.get("/checkout/invoice/sent").get_data(as_text=True)
    assert order.reference in page and invoice.number in page and "PO-0045123/A" in page
    assert f'href="{invoice.hosted_url}"' in page and f'href="{invoice.pdf_url}"' in page
    assert "accounts.payable@example.org" in page
    assert shopper.basket() == {}
    [confirmation] = emails(db, order, INVOICE_ISSUED)
    assert confirmation.recipient == "priya.patel@example.org"
    assert invoice.number in confirmation.text_body and invoice.hosted_url in confirmation.text_body
    assert "PO-0045123/A" in confirmation.text_body
    assert emails(db, order, "confirmation") == []  # the card order's email is not sent too
    # The hosted page and the PDF work, and show the purchase order.
    hosted = requests.get(invoice.hosted_url, timeout=10).text
    assert "PO-0045123/A" in hosted and invoice.number in hosted
    pdf = requests.get(invoice.pdf_url, timeout=10)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "PO-0045123/A" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)


def test_dispatched_before_payment_then_paid_by_two_concurrent_deliveries_once(
    app, live_server, shopper, sandbox, staff_client, db
):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert order.reference in staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    response = staff_client.post(f"/staff/orders/{order.reference}/dispatch", data={
        "csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}"),
        "carrier": "Royal Mail", "tracking_number": "AB123456789GB",
    })
    assert response.status_code == 303
    order = only_order(db)
    assert order.status == "invoiced_dispatched" and order.dispatched_at is not None and order.paid_at is None
    [dispatch] = emails(db, order, "dispatch")
    assert order.invoice.number in dispatch.text_body  # the email reminds them of the invoice
    staff_client.get(f"/staff/orders/{order.reference}")  # (shows the "marked dispatched" message)
    assert order.reference not in staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)

    [paid_event] = [e for e in sandbox.post(
        f"/_sandbox/invoices/{order.invoice.stripe_invoice_id}/pay", method="bank_transfer"
    )["event_ids"] if sandbox.get(f"/_sandbox/events/{e}")["event"]["type"] == "invoice.paid"]
    payload = sandbox.event_payload(paid_event)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)}
    statuses = race(6, lambda _i: requests.post(live_server + "/stripe/webhook", data=payload, headers=headers,
                                                timeout=30).status_code)
    assert statuses == [200] * 6
    order = only_order(db)
    assert order.status == "dispatched" and order.paid_at is not None and order.dispatched_at is not None
    assert order.amount_charged_pence == 8195 and not order.amount_mismatch
    assert order.payment_intent_id.startswith("pi_") and order.invoice.paid_by == "Bank transfer (Stripe)"
    assert events(db, order, "invoice_paid") == 1
    assert len(emails(db, order, INVOICE_PAID)) == 1
    assert stock(db) == 90  # dispatched copies stay out


def test_two_different_events_and_the_desk_record_the_payment_once(client, shopper, sandbox, staff_client, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert desk(staff_client, order, "paid", how="cheque", note="Cheque 004512").status_code == 303
    order = only_order(db)
    assert order.status == "paid" and order.invoice.paid_by == "Out of band: cheque"
    assert order.invoice.paid_note == "Cheque 004512"
    assert stripe_invoice(sandbox, order)["status"] == "paid"
    for event in sandbox.events("invoice.paid"):  # Stripe's own word arrives after
        assert deliver_event(client, sandbox, event["id"]).status_code == 200
    order = only_order(db)
    assert events(db, order, "invoice_paid") == 1 and len(emails(db, order, INVOICE_PAID)) == 1
    marked = db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind="invoice_marked_paid")).one()
    assert marked.actor == STAFF_EMAIL and marked.detail["how"] == "Cheque"
    # A paid invoice cannot be voided or marked paid again.
    assert "Only an unpaid invoice can be voided" in html.unescape(
        staff_client.post(f"/staff/orders/{order.reference}/invoice/void", data={
            "csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}"),
            "reason": "x", "request_token": "abc"}, follow_redirects=True).get_data(as_text=True))


def test_voided_by_the_desk_puts_the_copies_back_and_tells_the_organisation(client, shopper, sandbox,
                                                                              staff_client, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert stock(db) == 90
    refused = desk(staff_client, order, "void", reason="", follow_redirects=True).get_data(as_text=True)
    assert "Say why you are voiding the invoice" in html.unescape(refused)
    assert only_order(db).status == "invoiced" and stripe_invoice(sandbox, order)["status"] == "open"
    assert desk(staff_client, order, "void", reason="Ordered twice by mistake").status_code == 303
    order = only_order(db)
    assert order.status == "invoice_void" and order.closed_at is not None
    assert order.invoice.closed_reason == "Ordered twice by mistake"
    assert stripe_invoice(sandbox, order)["status"] == "void"
    assert stock(db) == 100
    [cancelled] = emails(db, order, INVOICE_CANCELLED)
    assert "Ordered twice by mistake" in cancelled.text_body and "nothing is owed" in cancelled.text_body
    # Stripe's invoice.voided arriving afterwards changes nothing.
    for event in sandbox.events("invoice.voided"):
        assert deliver_event(client, sandbox, event["id"]).status_code == 200
    assert stock(db) == 100 and len(emails(db, only_order(db), INVOICE_CANCELLED)) == 1


def test_voided_in_stripes_dashboard_closes_it_through_the_webhook(client, shopper, sandbox, db, app):
    import stripe

    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    stripe_client = stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url}, max_network_retries=0)
    stripe_client.v1.invoices.void_invoice(order.invoice.stripe_invoice_id)
    [event] = sandbox.events("invoice.voided")
    assert deliver_event(client, sandbox, event["id"]).get_json()["outcome"].endswith("invoice_void")
    assert stock(db) == 100
    assert deliver_event(client, sandbox, event["id"]).get_json()["outcome"] == "duplicate"


def test_uncollectible_closes_it_and_a_late_payment_still_counts(client, shopper, sandbox, db):
    import stripe

    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    stripe_client = stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url}, max_network_retries=0)
    stripe_client.v1.invoices.mark_uncollectible(order.invoice.stripe_invoice_id)
    [event] = sandbox.events("invoice.marked_uncollectible")
    assert deliver_event(client, sandbox, event["id"]).status_code == 200
    assert only_order(db).status == "uncollectible" and stock(db) == 100
    sandbox.post(f"/_sandbox/invoices/{order.invoice.stripe_invoice_id}/pay", method="card")
    [paid] = sandbox.events("invoice.paid")
    assert deliver_event(client, sandbox, paid["id"]).status_code == 200
    order = only_order(db)
    assert order.status == "paid" and order.invoice.paid_by == "Card (Stripe)"
    assert stock(db) == 90  # taken again for the late payment


def test_overdue_and_failed_payments_are_flagged_for_staff(client, shopper, sandbox, staff_client, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    # The payer's card is declined on Stripe's invoice page.
    token = order.invoice.hosted_url.rsplit("/", 1)[1]
    declined = requests.post(order.invoice.hosted_url, data={
        "name": "Accounts", "email": "ap@example.org", "card_number": "4000 0000 0000 0002",
        "expiry": "12/34", "cvc": "123"}, timeout=10)
    assert declined.status_code == 402 and token
    [failed] = sandbox.events("invoice.payment_failed")
    assert deliver_event(client, sandbox, failed["id"]).status_code == 200
    order = only_order(db)
    assert order.status == "invoiced" and order.invoice.payment_failed_at is not None
    assert "invoice payment failed" in order.flags
    # Stripe's Automation says it is overdue.
    sandbox.post(f"/_sandbox/invoices/{order.invoice.stripe_invoice_id}/overdue", days=3)
    [overdue] = sandbox.events("invoice.overdue")
    assert deliver_event(client, sandbox, overdue["id"]).status_code == 200
    order = only_order(db)
    assert order.invoice.overdue_flagged_at is not None and events(db, order, "invoice_overdue") == 1
    page = html.unescape(staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True))
    assert "overdue by 3 days" in page and "A payment of this invoice failed" in page
    listing = staff_client.get("/staff/orders/invoices?view=overdue").get_data(as_text=True)
    assert order.reference in listing and "PO-0045123/A" in listing and ">3<" in listing
    assert order.reference not in staff_client.get("/staff/orders/invoices?view=open").get_data(as_text=True)


def test_the_same_organisation_ordering_twice_reuses_its_customer(client, shopper, sandbox, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order_by_invoice(shopper, quantity=12, finance_email="accounts.payable@EXAMPLE.org",
                     organisation="Leeds Teaching Hospitals  NHS trust", billing_line2="Gate 2")
    db.session.expire_all()
    first, second = db.session.scalars(select(Order).order_by(Order.id)).all()
    assert first.invoice.stripe_customer_id == second.invoice.stripe_customer_id
    assert len(sandbox.requests_to("/v1/customers")) == 1  # created once
    [customer_id] = {stripe_invoice(sandbox, o)["customer"] for o in (first, second)}
    updates = sandbox.requests_to(f"/v1/customers/{customer_id}")  # its address: set, then changed
    assert updates[-1]["params"]["address"]["line2"] == "Gate 2" and "name" not in updates[-1]["params"]


def test_organisations_sharing_a_finance_mailbox_stay_customers_of_their_own(client, shopper, sandbox, db):
    """Trusts in one shared-services group often pay from one accounts payable mailbox: each
    keeps its own Stripe customer, so one's order never renames the other's invoices."""
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order_by_invoice(shopper, quantity=10, organisation="Bradford Teaching Hospitals NHS Foundation Trust")
    db.session.expire_all()
    first, second = db.session.scalars(select(Order).order_by(Order.id)).all()
    assert first.invoice.stripe_customer_id != second.invoice.stripe_customer_id
    names = {c["params"]["name"] for c in sandbox.requests_to("/v1/customers")}
    assert names == {"Leeds Teaching Hospitals NHS Trust", "Bradford Teaching Hospitals NHS Foundation Trust"}


# --- refusals, with everything typed kept --------------------------------------------------------

def test_under_the_minimum_is_refused_with_a_message_and_nothing_lost(client, shopper, sandbox, db):
    priced_publication()
    response = order_by_invoice(shopper, quantity=2)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Paying by invoice is for orders of £40.00 or more (before postage); this one is £17.00." in page
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert stock(db) == 100 and sandbox.requests_to("/v1/invoices") == []
    for value in ("Leeds Teaching Hospitals NHS Trust", "PO-0045123/A", "priya.patel@example.org"):
        assert f'value="{value}"' in page
    # The basket says so before the form is even tried.
    assert "Pay by invoice</strong> (for organisations): Paying by invoice is for orders of £40.00" in \
        html.unescape(shopper.basket_page())


def test_a_missing_po_number_is_refused_with_a_message_and_nothing_lost(client, shopper, sandbox, db):
    priced_publication()
    response = order_by_invoice(shopper, quantity=10, po_number="   ", contact_email="not an address")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert '<a href="#po_number">Purchase order (PO) number</a>: Enter your purchase order (PO) number' in page
    assert '<a href="#contact_email">Your email address</a>: Enter an email address in the correct format' in page
    assert re.search(r'<input[^>]*id="po_number"[^>]*aria-invalid="true"', page) or \
        re.search(r'<input[^>]*aria-invalid="true"[^>]*id="po_number"', page)
    assert 'aria-describedby="po_number-hint po_number-error"' in page
    assert 'value="Leeds Teaching Hospitals NHS Trust"' in page and 'value="Clinical Sciences Building"' in page
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0 and stock(db) == 100


def selected(page: str, name: str) -> list[str]:
    select = page[page.index(f'name="{name}"'):]
    select = select[: select.index("</select>")]
    return re.findall(r'<option selected value="([^"]*)"', select)


def test_the_delivery_country_is_never_one_nobody_chose(client, shopper, sandbox, db):
    priced_publication()
    shopper.add(quantity=10)
    page = shopper.client.get("/checkout/invoice").get_data(as_text=True)
    assert selected(page, "delivery_country") == ["GB"]  # not the Channel Islands, first by name
    shopper.region("europe")
    page = shopper.client.get("/checkout/invoice").get_data(as_text=True)
    assert selected(page, "delivery_country") == [""] and ">Choose the country</option>" in page
    response = shopper.client.post("/checkout/invoice", data={
        **ORGANISATION, **form_fields(shopper), "delivery_country": ""})
    assert response.status_code == 422 and "Choose the delivery country." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_delivery_outside_the_baskets_region_is_refused(client, shopper, sandbox, db):
    priced_publication()
    response = order_by_invoice(shopper, quantity=10, delivery_country="FR")
    assert response.status_code == 422  # not a choice for UK postage
    assert "Not a valid choice" in response.get_data(as_text=True) or "Choose" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_the_same_form_sent_twice_places_one_order(client, shopper, sandbox, db):
    priced_publication()
    shopper.add(quantity=10)
    data = {**ORGANISATION, **form_fields(shopper)}
    first = shopper.client.post("/checkout/invoice", data=data)
    shopper.add(quantity=10)  # the basket is full again, as on a second tab
    second = shopper.client.post("/checkout/invoice", data=data)
    assert first.status_code == second.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert len(sandbox.requests_to("/v1/invoices")) == 1


def test_more_than_the_card_limit_goes_by_invoice_and_more_than_the_invoice_limit_nowhere(
    client, shopper, sandbox, db, app
):
    priced_publication(stock=1000)
    shopper.add(quantity=60)
    page = html.unescape(shopper.basket_page())
    assert "paying by card takes up to 50 copies of a title" in page
    assert "Pay by invoice instead, or lower the quantity to pay by card." in page
    assert re.search(r'<button type="submit" class="primary" disabled', page)
    assert ">Pay by invoice</button>" in page
    assert shopper.checkout().status_code == 303 and sandbox.requests_to("/v1/checkout/sessions") == []
    data = {**ORGANISATION, **form_fields(shopper)}
    assert shopper.client.post("/checkout/invoice", data=data).status_code == 303
    order = only_order(db)
    assert order.copies == 60 and order.lines[0].unit_price_pence == 600  # the 50+ price
    shopper.add(quantity=501)
    assert "Please choose a quantity from 1 to 500." in html.unescape(shopper.basket_page())


# --- approval, and Stripe down ---------------------------------------------------------------------

def test_manual_approval_waits_for_staff_then_stripe_sends_it(app, client, shopper, sandbox, staff_client, db):
    app.config["INVOICE_APPROVAL"] = "manual"
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert order.status == "invoice_pending" and order.invoice.approved_at is None
    assert sandbox.requests_to("/v1/invoices") == [] and stock(db) == 90
    assert "We check each order paid by invoice before we send it" in client.get("/checkout/invoice/sent").get_data(as_text=True)
    [received] = emails(db, order, INVOICE_REQUESTED)
    assert received.recipient == "priya.patel@example.org"
    assert order.reference in staff_client.get("/staff/orders/invoices?view=approval").get_data(as_text=True)
    assert desk(staff_client, order, "approve").status_code == 303
    order = only_order(db)
    assert order.status == "invoiced" and order.invoice.approved_by == STAFF_EMAIL
    assert stripe_invoice(sandbox, order)["_sent"] == 1 and len(emails(db, order, INVOICE_ISSUED)) == 1
    # Nothing is left to approve; an old form sent again is refused and sends nothing.
    assert "invoice/approve" not in staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    again = staff_client.post(f"/staff/orders/{order.reference}/invoice/approve", data={
        "csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}")}, follow_redirects=True)
    assert "its invoice was sent already" in html.unescape(again.get_data(as_text=True))
    assert len(sandbox.requests_to("/v1/invoices")) == 1


def test_staff_decline_an_order_waiting_for_approval(app, client, shopper, sandbox, staff_client, db):
    app.config["INVOICE_APPROVAL"] = "manual"
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert desk(staff_client, order, "decline", reason="We cannot supply this organisation").status_code == 303
    order = only_order(db)
    assert order.status == "cancelled" and stock(db) == 100
    [declined] = emails(db, order, INVOICE_CANCELLED)
    assert "We cannot supply this organisation" in declined.text_body
    declined_event = db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind="invoice_declined")).one()
    assert declined_event.actor == STAFF_EMAIL


def test_stripe_down_keeps_the_order_and_reconcile_sends_the_invoice_once(app, client, runner, shopper,
                                                                          sandbox, db):
    priced_publication()
    sandbox.post("/_sandbox/fail", count=5, status=500, path_prefix="/v1/invoices")
    response = order_by_invoice(shopper, quantity=10)
    assert response.status_code == 303
    order = only_order(db)
    assert order.status == "invoice_pending" and order.invoice.issue_error
    assert order.invoice.stripe_customer_id and order.invoice.stripe_invoice_id is None
    assert stock(db) == 90 and shopper.basket() == {}
    assert "we could not reach our payment provider" in client.get("/checkout/invoice/sent").get_data(as_text=True)
    sandbox.post("/_sandbox/fail", count=0)
    result = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert result.exit_code == 0, result.output
    assert "invoice_pending -> invoiced" in result.output and "1 invoice(s) not yet paid" in result.output
    order = only_order(db)
    assert order.status == "invoiced" and order.invoice.issue_error is None and order.invoice.sent_at
    assert stripe_invoice(sandbox, order)["_sent"] == 1
    assert len([r for r in sandbox.requests_to("/v1/invoices") if r["status"] == 200]) == 1
    assert len(emails(db, order, INVOICE_ISSUED)) == 1


def test_a_draft_stripe_made_whose_answer_was_lost_is_finished_not_made_again(app, client, runner, shopper,
                                                                             sandbox, stripe_server, db):
    """Stripe makes the draft, then the answer is lost (a 500 after the work): the retry finds
    that draft by the order's reference instead of leaving it behind and making another."""
    priced_publication()
    sandbox.post("/_sandbox/fail", count=1, status=502, stage="after", path_prefix="/v1/invoices")
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert order.status == "invoice_pending" and order.invoice.stripe_invoice_id is None
    assert [i["status"] for i in stripe_server.state.all("invoice")] == ["draft"]  # made, all the same
    assert runner.invoke(args=["orders", "reconcile", "--since", "1d"]).exit_code == 0
    order = only_order(db)
    assert order.status == "invoiced"
    [made] = stripe_server.state.all("invoice")
    assert made["id"] == order.invoice.stripe_invoice_id and made["status"] == "open"


def test_a_draft_left_half_made_is_finished_without_a_line_twice(app, client, runner, shopper, sandbox, db):
    """Stripe fails while the lines are added: the retry adds only the missing ones."""
    priced_publication()
    make_publication(isbn="9780000000019", title="Second title", price_pence=1200, stock=50)
    shopper.add(isbn="9780000000019", quantity=4)
    sandbox.post("/_sandbox/fail", count=1, status=500, path_prefix="/v1/invoiceitems", method="POST", stage="during")
    response = order_by_invoice(shopper, quantity=10)
    assert response.status_code == 303
    order = only_order(db)
    assert order.status == "invoice_pending" and order.invoice.stripe_invoice_id  # the draft exists
    result = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert result.exit_code == 0, result.output
    order = only_order(db)
    at_stripe = stripe_invoice(sandbox, order)
    assert order.status == "invoiced" and len(at_stripe["_lines"]) == 3  # two titles and the postage
    assert at_stripe["total"] == order.total_pence


def test_reconcile_records_a_payment_whose_webhook_never_came_and_flags_overdue(app, runner, shopper,
                                                                              sandbox, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order_by_invoice(shopper, quantity=12)
    db.session.expire_all()
    paid, late = db.session.scalars(select(Order).order_by(Order.id)).all()
    sandbox.post(f"/_sandbox/invoices/{paid.invoice.stripe_invoice_id}/pay", method="bank_transfer")
    sandbox.post(f"/_sandbox/invoices/{late.invoice.stripe_invoice_id}/overdue", days=2)
    result = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert result.exit_code == 0, result.output
    assert f"{paid.reference}\tinvoiced -> paid" in result.output
    assert f"{late.reference}\tinvoiced -> invoiced\tinvoice overdue: flagged" in result.output
    db.session.expire_all()
    assert db.session.get(Order, paid.id).status == "paid"
    assert db.session.get(Order, late.id).invoice.overdue_flagged_at is not None
    again = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert "changed 0 order(s)" in again.output


def test_expire_stale_never_touches_invoice_orders(app, runner, shopper, sandbox, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    db.session.execute(Order.__table__.update().values(created_at=order.created_at - timedelta(days=20)))
    db.session.commit()
    result = runner.invoke(args=["orders", "expire-stale"])
    assert "Settled 0 stale order(s)." in result.output
    assert only_order(db).status == "invoiced" and stock(db) == 90


def test_invoice_holds_are_capped_apart_from_card_checkouts(app, client, shopper, sandbox, db):
    priced_publication(stock=1000)
    app.config["INVOICE_HOLD_LIMIT"] = 15
    assert order_by_invoice(shopper, quantity=10).status_code == 303
    response = order_by_invoice(shopper, quantity=10)
    assert response.status_code == 422
    assert "Invoices not yet paid from this address already hold 10 copies" in html.unescape(
        response.get_data(as_text=True))
    shopper.add(quantity=2)  # a card checkout is not counted against invoices
    assert shopper.checkout().status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2


def test_invoice_holds_count_an_ipv6_network_as_one_address(app, sandbox, db):
    """Moving to the next address in one's /64 does not hold more copies for weeks."""
    priced_publication(stock=1000)
    app.config["INVOICE_HOLD_LIMIT"] = 15
    codes = []
    for n in (1, 2):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"2001:db8:1234:5678::{n}"
        codes.append(order_by_invoice(Shopper(browser), quantity=10).status_code)
    assert codes == [303, 422]


# --- the desk: export, receipt, refunds ------------------------------------------------------------

def test_the_orders_export_carries_the_po_and_invoice_number(client, shopper, sandbox, staff_client, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    text = staff_client.get("/staff/orders.csv?status=all").get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["po_number"] == "PO-0045123/A" and row["invoice_number"] == order.invoice.number
    assert row["organisation"] == "Leeds Teaching Hospitals NHS Trust" and row["paid_by"] == "invoice"
    assert (row["status"], row["unit_price"], row["discount"]) == ("invoiced", "7.50", "0.00")
    assert order.reference in staff_client.get("/staff/orders?status=invoices_unpaid").get_data(as_text=True)


def test_a_paid_invoice_has_a_receipt_with_its_po_and_number(client, shopper, sandbox, db):
    from shop.orders.views import order_page_path

    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    sandbox.post(f"/_sandbox/invoices/{order.invoice.stripe_invoice_id}/pay", method="card")
    for event in sandbox.events("invoice.paid"):
        deliver_event(client, sandbox, event["id"])
    order = only_order(db)
    with client.application.test_request_context():
        path = order_page_path(order)
    page = client.get(path).get_data(as_text=True)
    assert "Download your receipt (PDF)" in page
    pdf = client.get(path + "/receipt.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "PO-0045123/A" in text and order.invoice.number in text and "Leeds Teaching Hospitals" in text
    assert "Invoice date" in text and "Date paid" in text  # the invoice's date, then its payment's


def test_an_invoice_paid_by_card_can_be_refunded_at_the_desk_one_paid_by_transfer_cannot(
    client, shopper, sandbox, staff_client, db
):
    from tests.conftest import refund_at_the_desk

    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order_by_invoice(shopper, quantity=12)
    db.session.expire_all()
    by_card, by_transfer = db.session.scalars(select(Order).order_by(Order.id)).all()
    sandbox.post(f"/_sandbox/invoices/{by_card.invoice.stripe_invoice_id}/pay", method="card")
    sandbox.post(f"/_sandbox/invoices/{by_transfer.invoice.stripe_invoice_id}/pay", method="bank_transfer")
    for event in sandbox.events("invoice.paid"):
        deliver_event(client, sandbox, event["id"])
    db.session.expire_all()
    by_card, by_transfer = db.session.scalars(select(Order).order_by(Order.id)).all()
    response = refund_at_the_desk(staff_client, by_card, "10.00")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, by_card.id).refunded_pence == 1000
    page = html.unescape(staff_client.get(f"/staff/orders/{by_transfer.reference}").get_data(as_text=True))
    assert "refund it by bank transfer, or with a credit note" in page
    assert f"/staff/orders/{by_transfer.reference}/refund\"" not in page


def test_a_packing_slip_of_an_unpaid_invoice_order_names_its_purchase_order(client, shopper, sandbox,
                                                                            staff_client, db):
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    slip = html.unescape(staff_client.get(f"/staff/orders/{order.reference}/packing-slip").get_data(as_text=True))
    assert "Leeds Teaching Hospitals NHS Trust, purchase order <strong>PO-0045123/A</strong>" in slip
    assert "placed " in slip and "paid  " not in slip  # sent before it is paid


def test_preorders_by_invoice_wait_for_stock_like_card_orders(client, shopper, sandbox, staff_client, db):
    from datetime import date

    priced_publication(publishing_status="02", availability="10", publication_date=date(2027, 9, 1),
                       year=2027, stock=0)
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    assert order.status == "invoiced" and order.awaiting_stock and stock(db) == 0
    assert "pre-order" in stripe_invoice(sandbox, order)["_lines"][0]["description"]
    assert order.reference not in staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    assert order.reference in staff_client.get(f"/staff/orders/waiting/{ISBN}").get_data(as_text=True)


def test_a_preorder_voided_after_its_copies_were_allocated_gives_them_back(client, shopper, sandbox,
                                                                          staff_client, db):
    from datetime import date

    from shop.orders import waiting

    publication = priced_publication(publishing_status="02", availability="10",
                                     publication_date=date(2027, 9, 1), year=2027, stock=0)
    order_by_invoice(shopper, quantity=10)
    publication = db.session.get(Publication, publication.id)
    publication.publishing_status, publication.availability = "04", "21"
    publication.publication_date, publication.stock = date(2026, 1, 1), 50
    db.session.commit()
    assert waiting.allocate(publication, date(2026, 12, 1), "desk@example.org").copies == 10
    db.session.commit()
    assert stock(db) == 40 and not only_order(db).awaiting_stock
    assert desk(staff_client, only_order(db), "void", reason="Budget withdrawn").status_code == 303
    assert only_order(db).status == "invoice_void" and stock(db) == 50  # the allocated copies are back


def test_declining_after_a_failed_approval_deletes_the_draft_at_stripe(app, client, shopper, sandbox,
                                                                       staff_client, db):
    app.config["INVOICE_APPROVAL"] = "manual"
    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    sandbox.post("/_sandbox/fail", count=1, status=500, path_prefix="/v1/invoices/", method="POST",
                 stage="before")
    # The draft is made (POST /v1/invoices is not under /v1/invoices/), finalizing it fails.
    answer = desk(staff_client, order, "approve", follow_redirects=True)
    assert "was not sent" in html.unescape(answer.get_data(as_text=True))
    order = only_order(db)
    assert order.status == "invoice_pending" and order.invoice.approved_by == STAFF_EMAIL
    assert order.invoice.stripe_invoice_id and order.invoice.issue_error
    shown = html.unescape(staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True))
    assert "The invoice could not be made at Stripe" in shown and "Try again" in shown
    draft_id = order.invoice.stripe_invoice_id
    assert desk(staff_client, order, "decline", reason="Duplicate of another order").status_code == 303
    order = only_order(db)
    assert order.status == "cancelled" and stock(db) == 90 + 10
    assert requests.get(f"{sandbox.url}/_sandbox/invoices/{draft_id}", timeout=10).status_code == 404


def test_the_buyers_order_page_shows_the_invoice_until_it_is_paid(client, shopper, sandbox, db):
    from shop.orders.views import order_page_path

    priced_publication()
    order_by_invoice(shopper, quantity=10)
    order = only_order(db)
    with client.application.test_request_context():
        path = order_page_path(order)
    page = html.unescape(client.get(path).get_data(as_text=True))
    assert f"Invoice {order.invoice.number} for £81.95" in page and "See and pay the invoice" in page
    assert "purchase order PO-0045123/A" in page and "Download your receipt" not in page
    assert client.get(path + "/receipt.pdf").status_code == 404  # no receipt before payment


def test_the_invoice_speaks_of_vat_only_for_a_seller_registered_for_it():
    from shop.orders.invoicing import footer
    from shop.seller import Seller

    unregistered = footer(Seller("Example Publisher Ltd", "1 Example Street, Exampleton", "orders@example.org"))
    assert "No VAT is charged." in unregistered and "0%" not in unregistered
    registered = footer(Seller("Example Publisher Ltd", "1 Example Street, Exampleton", "orders@example.org",
                               vat_number="GB 123 4567 89"))
    assert "VAT number GB 123 4567 89." in registered and "every line carries VAT at 0% (£0.00)" in registered
