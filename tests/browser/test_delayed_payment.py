"""A Bacs Direct Debit purchase in a real browser: the sandbox's page takes it, the shop says the
payment is processing, the desk shows it, and later a pending refund; each page checked as in
the journey (axe, 375 px, console)."""

import re
import time

import pytest

from tests.browser.journey import CUSTOMER, REFERENCE, TOTAL, the_order
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD

pytestmark = pytest.mark.browser


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_a_bank_payment_is_processing_then_paid_and_a_refund_pending(open_tab, shop, db):
    from playwright.sync_api import expect

    customer = open_tab()
    page = customer.page
    customer.goto(f"/publications/{shop.publication.isbn}")
    page.get_by_label("Copies", exact=True).fill("3")
    page.get_by_role("button", name="Add to basket").click()
    page.get_by_label("Deliver to").select_option(label="Europe")
    page.get_by_role("button", name="Update postage").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(re.escape(shop.sandbox.url) + r"/pay/cs_test_\w+"))

    for label, value in (("Email address", CUSTOMER["email"]), ("Full name", CUSTOMER["name"]),
                         ("Address line 1", CUSTOMER["line1"]), ("Town or city", CUSTOMER["city"]),
                         ("Postcode", CUSTOMER["postal_code"])):
        page.get_by_label(label).fill(value)
    page.get_by_label("Country").select_option(CUSTOMER["country"])
    page.get_by_label("Bacs Direct Debit (UK bank account)").check()
    page.get_by_label("Sort code").fill("10-88-00")
    page.get_by_label("Account number").fill("00012345")
    customer.step("payment-page-bacs", ours=False)
    page.get_by_role("button", name=f"Pay {TOTAL}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your payment is processing")
    reference = page.locator(".reference strong").inner_text()
    assert REFERENCE.fullmatch(reference), reference
    expect(page.locator(".message-info")).to_contain_text(f"we will email you at {CUSTOMER['email']}")
    expect(page.get_by_role("navigation", name="Main")).to_have_text(re.compile(r"Basket\s*$"))
    customer.step("payment-processing")
    assert the_order(db).status == "payment_processing"

    staff = open_tab()
    desk = staff.page
    staff.goto("/staff/login")
    desk.get_by_label("Email").fill(STAFF_EMAIL)
    desk.get_by_label("Password").fill(STAFF_PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Dashboard")
    staff.goto("/staff/orders?status=payment_processing")
    expect(desk.locator("table.orders tbody tr")).to_contain_text("Payment processing")
    staff.step("staff-orders-processing")
    desk.get_by_role("link", name=reference).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Order {reference} Payment processing")
    expect(desk.locator("#processing-note")).to_contain_text("Stripe is still collecting this payment")
    staff.step("staff-order-processing")

    # The bank pays; Stripe tells the shop (the sandbox delivers the webhook).
    shop.sandbox.post(f"/_sandbox/sessions/{the_order(db).stripe_session_id}/async")
    wait_for(lambda: the_order(db).status == "paid")
    shop.sandbox.post("/_sandbox/config", pending_refunds=True)
    staff.goto(f"/staff/orders/{reference}/refund")
    desk.get_by_label("Part of it, the amount below").check()
    desk.get_by_label("Amount to refund (£)").fill("5.00")
    desk.get_by_label("Reason").select_option("damaged")
    desk.get_by_role("button", name="Check the refund").click()
    desk.get_by_role("button", name="Refund £5.00 through Stripe").click()
    expect(desk.get_by_role("status")).to_contain_text("Stripe accepted a refund of £5.00; it is pending")
    expect(desk.locator("ul.refunds")).to_contain_text("Pending: counted when Stripe completes it")
    expect(desk.locator(".flag-info")).to_contain_text("Refund pending £5.00")
    staff.step("staff-order-refund-pending")
    assert the_order(db).refunded_pence == 0
