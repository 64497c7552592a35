"""The desk's new safety steps in a real browser, checked as in the journey (screenshots at
desktop and 375 px, axe-core, console errors): a large refund asks for the password again and
keeps the amount typed; an order flagged for an amount mismatch is acknowledged before it can be
dispatched."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from shop.orders.models import Order
from shop.staff.models import StaffSession
from shop.timeutil import utcnow
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, make_order, paid_order_through_stripe

pytestmark = pytest.mark.browser


def _signed_in(open_tab):
    from playwright.sync_api import expect

    tab = open_tab()
    tab.goto("/staff/login")
    tab.page.get_by_label("Email").fill(STAFF_EMAIL)
    tab.page.get_by_label("Password").fill(STAFF_PASSWORD)
    tab.page.get_by_role("button", name="Sign in").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    return tab


def test_a_large_refund_asks_for_the_password_and_keeps_the_amount(open_tab, shop, app, db):
    from playwright.sync_api import expect

    app.config["STAFF_REAUTH_REFUND_PENCE"] = 1000
    order = paid_order_through_stripe(app.test_client(), shop.sandbox, quantity=2)  # £20.95
    tab = _signed_in(open_tab)
    db.session.execute(update(StaffSession).values(password_at=utcnow() - timedelta(minutes=30)))
    db.session.commit()
    page = tab.page
    tab.goto(f"/staff/orders/{order.reference}/refund")
    page.get_by_label("Part of it, the amount below").check()
    page.get_by_label("Amount to refund (£)").fill("15.00")
    page.get_by_label("Reason").select_option("damaged")
    page.get_by_role("button", name="Check the refund").click()
    page.get_by_role("button", name="Refund £15.00 through Stripe").click()  # the confirmation asks
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your password")
    expect(page.get_by_text(f"To refund £15.00 of order {order.reference}")).to_be_visible()
    tab.step("refund-asks-for-the-password")

    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not your password")
    expect(page.get_by_label("Your password")).to_have_attribute("aria-invalid", "true")
    tab.step("refund-wrong-password", status=401)

    page.get_by_label("Your password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_role("status")).to_contain_text("Stripe refunded £15.00")
    tab.step("refund-made")
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_pence == 1500


def test_an_amount_mismatch_is_acknowledged_before_dispatch(open_tab, shop, db):
    from playwright.sync_api import expect

    order = make_order()
    order.amount_mismatch, order.amount_charged_pence = True, 100
    db.session.commit()
    tab = _signed_in(open_tab)
    page = tab.page
    tab.goto(f"/staff/orders/{order.reference}")
    expect(page.get_by_role("heading", name="Amount mismatch")).to_be_visible()
    expect(page.get_by_role("button", name="Mark dispatched")).to_have_count(0)
    tab.step("mismatch-to-acknowledge")

    page.get_by_label("What you checked").fill("Stripe shows £1.00; the customer paid the rest by invoice.")
    page.get_by_role("button", name="Acknowledge the mismatch").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledged")
    expect(page.get_by_role("button", name="Mark dispatched")).to_be_visible()
    tab.step("mismatch-acknowledged")
