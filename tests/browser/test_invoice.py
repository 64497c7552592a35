"""An organisation pays by invoice in a real browser: the volume price table, a basket too large
for a card, the invoice form (sent back with its error summary, every field kept, and then sent
right), the confirmation with the invoice's links, Stripe's invoice page, and the desk's invoice
panel and invoices view. Every step is checked as in the journey (screenshot at desktop and
375 px, axe-core, console errors); the form also by keyboard alone."""

import re

import pytest
from sqlalchemy import select, update

from shop.catalogue.models import Publication
from shop.catalogue.rules import PriceBreak
from shop.orders.models import Order
from tests.conftest import ISBN, STAFF_EMAIL, STAFF_PASSWORD

pytestmark = pytest.mark.browser

FIELDS = {
    "Organisation": "Leeds Teaching Hospitals NHS Trust",
    "Your name": "Priya Patel",
    "Your email address": "priya.patel@example.org",
    "Finance (accounts payable) email address": "accounts.payable@example.org",
    "Billing address line 1": "St James's University Hospital",
    "Billing town or city": "Leeds",
    "Billing postcode": "LS9 7TF",
    "Deliver to (a name or department)": "Library and Knowledge Service",
    "Delivery address line 1": "Clinical Sciences Building",
    "Delivery town or city": "Leeds",
    "Delivery postcode": "LS9 7TF",
}


def test_an_organisation_orders_sixty_copies_and_pays_by_invoice(open_tab, shop, db):
    from playwright.sync_api import expect

    db.session.execute(update(Publication).where(Publication.isbn == ISBN).values(
        price_breaks=(PriceBreak(10, 750), PriceBreak(50, 600)), stock=200))
    db.session.commit()
    buyer = open_tab()
    page = buyer.page
    buyer.goto(f"/publications/{ISBN}")
    expect(page.locator("table.price-breaks")).to_contain_text("50 or more")
    buyer.step("publication-with-volume-prices")

    page.get_by_label("Copies").fill("60")
    page.get_by_role("button", name="Add to basket").click()
    expect(page).to_have_url(f"{shop.url}/basket")
    expect(page.locator("#basket-problems")).to_contain_text("paying by card takes up to 50 copies of a title")
    expect(page.locator("table.basket")).to_contain_text("£6.00")
    expect(page.get_by_role("button", name=re.compile("^(Pay by card|Continue to payment)$"))).to_be_disabled()
    buyer.step("basket-too-large-for-a-card")

    page.get_by_role("button", name="Pay by invoice").click()
    expect(page).to_have_url(f"{shop.url}/checkout/invoice")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay by invoice")
    buyer.step("invoice-form")

    # By keyboard: tab into the form and type; leave the purchase order number out.
    page.get_by_label("Organisation").focus()
    page.keyboard.type(FIELDS["Organisation"])
    for label, value in list(FIELDS.items())[1:]:
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Place the order and send the invoice").press("Enter")
    summary = page.locator("#invoice-problems")
    expect(summary).to_contain_text("Enter your purchase order (PO) number")
    expect(page.get_by_label("Purchase order (PO) number")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Organisation")).to_have_value(FIELDS["Organisation"])  # nothing lost
    expect(page.get_by_label("Delivery postcode")).to_have_value("LS9 7TF")
    buyer.step("invoice-form-with-an-error", status=422)
    summary.get_by_role("link", name="Purchase order (PO) number").click()
    expect(page.get_by_label("Purchase order (PO) number")).to_be_focused()
    page.keyboard.type("PO-0045123/A")
    page.get_by_role("button", name="Place the order and send the invoice").click()

    expect(page).to_have_url(f"{shop.url}/checkout/invoice/sent")
    expect(page.get_by_role("status")).to_contain_text("Invoice ")
    expect(page.get_by_role("link", name="Download the invoice (PDF)")).to_be_visible()
    buyer.step("invoice-placed")
    db.session.expire_all()
    order = db.session.scalars(select(Order)).one()
    assert (order.status, order.copies, order.lines[0].unit_price_pence) == ("invoiced", 60, 600)
    assert order.invoice.po_number == "PO-0045123/A"

    page.get_by_role("link", name="See the invoice and pay it online").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {order.invoice.number}")
    expect(page.locator("dl")).to_contain_text("PO-0045123/A")
    buyer.step("stripes-invoice-page", ours=False)

    staff = open_tab()
    staff.goto("/staff/login")
    staff.page.get_by_label("Email").fill(STAFF_EMAIL)
    staff.page.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.page.get_by_role("button", name="Sign in").click()
    expect(staff.page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    staff.goto(f"/staff/orders/{order.reference}")
    expect(staff.page.locator(".invoice-panel")).to_contain_text("PO-0045123/A")
    expect(staff.page.get_by_role("button", name="Mark dispatched")).to_be_visible()  # before payment
    staff.step("desk-invoice-order")
    staff.page.get_by_role("link", name="Invoices", exact=True).click()
    staff.page.get_by_role("link", name=re.compile(r"^Open, not yet due")).click()
    expect(staff.page.locator("table.data")).to_contain_text(order.reference)
    staff.step("desk-invoices-open")
