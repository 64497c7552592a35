"""Two members of staff edit one title at once, each in their own browser: the second save meets
the first, says so on the page, and loses neither person's work. Every step is checked as in the
journey (screenshot at desktop and 375 px, axe-core, console errors)."""

import pytest

from shop.catalogue.models import Publication
from tests.conftest import ISBN, STAFF_EMAIL, STAFF_PASSWORD

pytestmark = pytest.mark.browser


def _signed_in_at_the_edit_page(open_tab, name: str):
    from playwright.sync_api import expect

    tab = open_tab()
    tab.goto("/staff/login")
    tab.page.get_by_label("Email").fill(STAFF_EMAIL)
    tab.page.get_by_label("Password").fill(STAFF_PASSWORD)
    tab.page.get_by_role("button", name="Sign in").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    tab.goto(f"/staff/catalogue/{ISBN}")
    expect(tab.page.get_by_label("Price (£)")).to_have_value("8.50")
    tab.step(f"{name}-opens-the-edit-page")
    return tab


def test_two_people_editing_one_title_lose_neither_persons_work(open_tab, shop, db):
    from playwright.sync_api import expect

    first = _signed_in_at_the_edit_page(open_tab, "first")
    second = _signed_in_at_the_edit_page(open_tab, "second")

    first.page.get_by_label("Price (£)").fill("9.00")
    first.page.get_by_label("Subtitle (optional)").fill("Together we can (2012)")
    first.page.get_by_role("button", name="Save changes").click()
    expect(first.page.get_by_role("status")).to_contain_text("saved")
    first.step("first-saves-price-and-subtitle")

    # The second form still shows £8.50 and the old subtitle; its editor changes the price and title.
    page = second.page
    page.get_by_label("Price (£)").fill("8.75")
    page.get_by_label("Title", exact=True).fill("Leadership and engagement in the NHS")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "Someone else changed this publication while you were editing it, so nothing was saved."
    )
    expect(page.locator("#price-error")).to_have_text(
        "Someone else changed this to “£9.00” while you were editing. Save again to replace it with yours."
    )
    expect(page.get_by_label("Price (£)")).to_have_value("8.75")  # what they typed stays
    expect(page.get_by_label("Title", exact=True)).to_have_value("Leadership and engagement in the NHS")
    expect(page.get_by_label("Subtitle (optional)")).to_have_value("Together we can (2012)")  # theirs
    second.step("second-meets-the-first", status=409)

    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    second.step("second-saves-on-purpose")

    db.session.expire_all()
    publication = db.session.get(Publication, shop.publication.id)
    assert (publication.title, publication.subtitle, publication.price_pence) == (
        "Leadership and engagement in the NHS", "Together we can (2012)", 875,
    )
