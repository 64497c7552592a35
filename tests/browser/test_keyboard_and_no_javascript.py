"""The purchase without a mouse, and without JavaScript.

The keyboard test only presses Tab, Enter and types (Control+A to replace a field's text): no
clicks, no ``fill``. The page is read (which element has focus, what is shown) but never
changed by the test itself. The no-JavaScript test uses an ordinary context with JavaScript
disabled: every step of the purchase is a plain HTML form.
"""

import re

import pytest

from tests.browser.journey import (
    CUSTOMER,
    CVC,
    DECLINED_CARD,
    EXPIRY,
    GOOD_CARD,
    POSTAGE,
    REFERENCE,
    TOTAL,
    assert_nothing_recorded,
    assert_paid,
    fill_payment_page,
)
from tests.conftest import ISBN

pytestmark = pytest.mark.browser

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "(nothing)";
  const name = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim();
  const id = el.id ? "#" + el.id : "";
  return el.tagName.toLowerCase() + id + (name ? ` "${name.slice(0, 40)}"` : "");
}"""

HAS_FOCUS = "selector => !!document.activeElement && document.activeElement.matches(selector)"


def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has focus."""
    path = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(HAS_FOCUS, selector):
            return
        path.append(page.evaluate(FOCUSED))
    raise AssertionError(f"{limit} presses of Tab never reached {selector}; focus went: {path}")


def type_over(page, text: str) -> None:
    """Replace the focused field's text, as a person would: select all, type."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def press_enter_and_wait(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def type_payment_details(page, card: str) -> None:
    for selector, text in (
        ("#email", CUSTOMER["email"]),
        ("#name", CUSTOMER["name"]),
        ("#line1", CUSTOMER["line1"]),
        ("#city", CUSTOMER["city"]),
        ("#postal_code", CUSTOMER["postal_code"]),
    ):
        tab_to(page, selector)
        type_over(page, text)
    tab_to(page, "#country")
    page.keyboard.type(CUSTOMER["country_name"])  # a closed <select> jumps to what is typed
    for selector, text in (("#card_number", card), ("#expiry", EXPIRY), ("#cvc", CVC)):
        tab_to(page, selector)
        type_over(page, text)


def test_purchase_with_the_keyboard_alone(open_tab, shop, db):
    from playwright.sync_api import expect

    title = shop.publication.title
    customer = open_tab()
    page = customer.page
    customer.goto("/")  # typed into the address bar

    # The first Tab reaches the skip link, and it shows itself.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off screen: {box}"
    customer.step("keyboard-skip-link")

    tab_to(page, "#q")
    page.keyboard.type("978-1-85717-640-7")
    press_enter_and_wait(page)
    expect(page.locator(".publication-card")).to_have_count(1)
    customer.step("keyboard-search")

    tab_to(page, f'a[href$="/publications/{ISBN}"]')
    press_enter_and_wait(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)

    tab_to(page, "#quantity")
    type_over(page, "2")
    press_enter_and_wait(page)  # submits the add-to-basket form
    expect(page).to_have_url(f"{shop.url}/basket")
    expect(page.get_by_label(f"Copies of {title}")).to_have_value("2")

    tab_to(page, f"#qty-{ISBN}")
    type_over(page, "3")
    press_enter_and_wait(page)  # submits the update form
    expect(page.get_by_label(f"Copies of {title}")).to_have_value("3")

    tab_to(page, "#region")
    page.keyboard.type("Europe")
    tab_to(page, ".region-form button")
    press_enter_and_wait(page)
    expect(page.locator(".totals")).to_contain_text(f"Postage to Europe{POSTAGE}")
    customer.step("keyboard-basket")

    tab_to(page, "button.primary")
    expect(page.locator("button.primary")).to_have_text("Continue to payment")
    press_enter_and_wait(page)
    expect(page).to_have_url(re.compile(re.escape(shop.sandbox.url) + "/pay/cs_test_"))

    type_payment_details(page, DECLINED_CARD)
    expect(page.get_by_label("Country")).to_have_value(CUSTOMER["country"])
    press_enter_and_wait(page)  # Enter in the CVC field submits the payment form
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    customer.step("keyboard-card-declined", ours=False)
    assert_nothing_recorded(db, shop.sandbox)

    # Start again from the top of the page; the address is kept, the card is not.
    page.keyboard.press("Control+Home")
    type_payment_details(page, GOOD_CARD)
    tab_to(page, 'button[type="submit"]')
    expect(page.locator(":focus")).to_have_text(f"Pay {TOTAL}")
    press_enter_and_wait(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your order is confirmed")
    reference = page.locator(".reference strong").inner_text()
    assert REFERENCE.fullmatch(reference), reference
    customer.step("keyboard-confirmation")
    assert_paid(db, reference)


def test_purchase_with_javascript_disabled(open_tab, shop, db):
    from playwright.sync_api import expect

    title = shop.publication.title
    customer = open_tab(java_script_enabled=False)
    page = customer.page
    assert page.evaluate("() => 1") == 1  # (the test itself can still read the page)

    customer.goto("/")
    page.get_by_label("Search by title, author or ISBN").fill("9781857176407")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".publication-card")).to_have_count(1)
    customer.step("no-js-search")

    page.get_by_role("link", name=title).click()
    page.get_by_label("Copies", exact=True).fill("2")
    page.get_by_role("button", name="Add to basket").click()
    expect(page.get_by_role("status")).to_contain_text("Added 2 copies")
    customer.step("no-js-basket-2-copies")

    page.get_by_label(f"Copies of {title}").fill("3")
    page.get_by_role("button", name=f"Update copies of {title}").click()
    page.get_by_label("Deliver to").select_option(label="Europe")
    page.get_by_role("button", name="Update postage").click()
    expect(page.get_by_label(f"Copies of {title}")).to_have_value("3")
    expect(page.locator(".totals .grand")).to_contain_text(TOTAL)
    customer.step("no-js-basket-europe")

    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(re.escape(shop.sandbox.url) + "/pay/cs_test_"))
    fill_payment_page(page, DECLINED_CARD)
    page.get_by_role("button", name=f"Pay {TOTAL}").click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    customer.step("no-js-card-declined", ours=False)
    assert_nothing_recorded(db, shop.sandbox)

    fill_payment_page(page, GOOD_CARD)
    page.get_by_role("button", name=f"Pay {TOTAL}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your order is confirmed")
    reference = page.locator(".reference strong").inner_text()
    customer.step("no-js-confirmation")
    assert_paid(db, reference)
