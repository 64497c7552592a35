"""The whole journey in a real browser, as a customer and then as staff. Every step screenshots
the page (desktop and 375 px), runs axe-core and fails on console errors or failed requests to
the shop; see ``support.Tab.step``."""

import re

import pytest

from tests.browser.journey import (
    CUSTOMER,
    DECLINED_CARD,
    GOOD_CARD,
    POSTAGE,
    REFERENCE,
    SUBTOTAL,
    TOTAL,
    assert_nothing_recorded,
    assert_paid,
    fill_payment_page,
    the_order,
)
from tests.conftest import ISBN, STAFF_EMAIL, STAFF_PASSWORD

pytestmark = pytest.mark.browser


def test_customer_buys_three_copies_and_staff_dispatch_them(open_tab, shop, db):
    from playwright.sync_api import expect

    title = shop.publication.title
    customer = open_tab()
    page = customer.page

    # Catalogue: both titles listed.
    customer.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Print copies of our publications")
    expect(page.locator(".publication-card")).to_have_count(2)
    customer.step("catalogue")

    # Search by ISBN, hyphenated as printed on the cover.
    page.get_by_label("Search by title, author or ISBN").fill("978-1-85717-640-7")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_contain_text("1 publication matches")
    expect(page.locator(".publication-card")).to_have_count(1)
    customer.step("search-by-isbn")

    page.get_by_role("link", name=title).click()
    expect(page).to_have_url(f"{shop.url}/publications/{ISBN}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    customer.step("publication")

    page.get_by_label("Copies", exact=True).fill("2")
    page.get_by_role("button", name="Add to basket").click()
    expect(page).to_have_url(f"{shop.url}/basket")
    expect(page.get_by_role("status")).to_contain_text("Added 2 copies")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Basket (2 copies)")
    customer.step("basket-2-copies")

    page.get_by_label(f"Copies of {title}").fill("3")
    page.get_by_role("button", name=f"Update copies of {title}").click()
    expect(page.get_by_label(f"Copies of {title}")).to_have_value("3")
    expect(page.locator(".totals")).to_contain_text("Subtotal (3 copies)")
    customer.step("basket-3-copies")

    page.get_by_label("Deliver to").select_option(label="Europe")
    page.get_by_role("button", name="Update postage").click()
    totals = page.locator(".totals")
    expect(totals).to_contain_text(f"Postage to Europe{POSTAGE}")
    expect(totals).to_contain_text(SUBTOTAL)
    expect(totals.locator(".grand")).to_contain_text(TOTAL)
    customer.step("basket-europe")

    # Checkout: off to the sandbox's hosted payment page (not ours: checked, not failed).
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(re.escape(shop.sandbox.url) + r"/pay/cs_test_\w+"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pay {TOTAL}")
    customer.step("payment-page", ours=False)

    fill_payment_page(page, DECLINED_CARD)
    page.get_by_role("button", name=f"Pay {TOTAL}").click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    customer.step("card-declined", ours=False)
    assert_nothing_recorded(db, shop.sandbox)

    # The page kept the address; the card details must be typed again.
    expect(page.get_by_label("Full name")).to_have_value(CUSTOMER["name"])
    expect(page.get_by_label("Card number")).to_have_value("")
    fill_payment_page(page, GOOD_CARD)
    page.get_by_role("button", name=f"Pay {TOTAL}").click()

    success = re.escape(shop.url) + r"/checkout/success\?session_id=cs_test_"
    expect(page).to_have_url(re.compile(success))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your order is confirmed")
    reference = page.locator(".reference strong").inner_text()
    assert REFERENCE.fullmatch(reference), reference
    expect(page.locator("address")).to_contain_text(CUSTOMER["city"])
    # The basket is empty once paid.
    expect(page.get_by_role("navigation", name="Main")).to_have_text(re.compile(r"Basket\s*$"))
    customer.step("confirmation")
    customer.print_view(
        "confirmation",
        hidden=[".site-header nav", "form", ".site-footer", ".skip-link", ".no-print"],
        shown=[".reference", "table.basket", ".totals", "address"],
    )
    assert_paid(db, reference)

    # Staff: sign in, find the order by its reference, see it paid, dispatch it.
    staff = open_tab()
    desk = staff.page
    staff.goto("/staff/login")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Staff sign-in")
    staff.step("staff-sign-in")

    desk.get_by_label("Email").fill(STAFF_EMAIL)
    desk.get_by_label("Password").fill(STAFF_PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Dashboard")
    staff.step("staff-dashboard")

    desk.get_by_role("navigation", name="Staff").get_by_role("link", name="Orders").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Orders")
    staff.step("staff-orders")

    desk.get_by_label("Reference, email, name, postcode, town or street").fill(reference)
    desk.get_by_role("button", name="Filter").click()
    expect(desk.get_by_role("status")).to_contain_text("1 order.")
    rows = desk.locator("table.orders tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(reference)
    expect(rows.first).to_contain_text("Paid")
    expect(rows.first.locator("td.num").first).to_have_text("3")
    staff.step("staff-orders-found")

    desk.get_by_role("link", name=reference).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Order {reference} Paid")
    line = desk.get_by_role("table", name="Lines").locator("tbody tr")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(title)
    expect(line.locator("td.num").nth(1)).to_have_text("3")
    expect(desk.locator("address")).to_contain_text(CUSTOMER["postal_code"])
    staff.step("staff-order-paid")

    desk.get_by_role("link", name="Packing slip").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Packing slip")
    staff.step("packing-slip")
    staff.print_view(
        "packing-slip",
        hidden=[".no-print", "nav", "form"],
        shown=[".slip-address", "table.data"],
    )

    desk.get_by_role("link", name=f"Back to order {reference}").click()
    desk.get_by_label("Carrier").fill("An Post")
    desk.get_by_label("Tracking number").fill("RR123456785IE")
    desk.get_by_role("button", name="Mark dispatched").click()
    expect(desk.get_by_role("status")).to_contain_text(f"Order {reference} marked dispatched.")
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Order {reference} Dispatched")
    staff.step("staff-order-dispatched")

    order = the_order(db)
    assert order.status == "dispatched"
    assert (order.carrier, order.tracking_number) == ("An Post", "RR123456785IE")
