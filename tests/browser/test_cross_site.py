"""A form on another site that posts to the shop, sent by a real browser, changes nothing: the
browser's own Sec-Fetch-Site and Origin headers are what the shop checks (shop/security.py)."""

import pytest

from tests.conftest import ISBN

pytestmark = pytest.mark.browser

FORM = """<!doctype html><html lang="en"><title>Prize draw</title>
<form method="post" action="{action}">
  <input type="hidden" name="isbn" value="{isbn}"><input type="hidden" name="quantity" value="40">
  <button type="submit">Win a prize</button>
</form></html>"""


@pytest.mark.parametrize(
    "other_origin",
    ["http://attacker.test", "http://127.0.0.1:9"],  # another site; the same host on another port
)
def test_a_form_on_another_origin_cannot_change_the_basket(chromium, shop, other_origin):
    from playwright.sync_api import expect

    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{shop.url}/publications/{ISBN}")
    page.get_by_role("button", name="Add to basket").click()
    basket_link = page.get_by_role("navigation", name="Main")
    expect(basket_link).to_contain_text("Basket (1 copy)")

    body = FORM.format(action=f"{shop.url}/basket/add", isbn=ISBN)
    context.route(f"{other_origin}/**", lambda route: route.fulfill(content_type="text/html", body=body))
    page.goto(f"{other_origin}/prize")
    with page.expect_response(f"{shop.url}/basket/add") as answer:
        page.get_by_role("button", name="Win a prize").click()
    assert answer.value.status == 403
    sent = answer.value.request.all_headers()
    # Chromium sends Sec-Fetch-* only to HTTPS (and localhost) origins; over plain HTTP on
    # 127.0.0.1 the shop decides by Origin. From the same host (another port) the basket cookie
    # is sent too (same site, SameSite=Lax): only the origin check stops that post.
    assert sent["origin"] == other_origin and sent.get("sec-fetch-site") in (None, "cross-site", "same-site")
    expect(page.locator("main")).to_contain_text("sent from another website, so nothing was changed")

    page.goto(f"{shop.url}/basket")
    expect(basket_link).to_contain_text("Basket (1 copy)")
    context.close()
