"""The checks every browser step makes do catch problems: a page served at the shop's address
with a serious axe violation, a console error, a failed request and a too-wide element fails."""

import pytest

pytestmark = pytest.mark.browser

BROKEN = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Broken on purpose</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Broken on purpose</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACwAAAAAAQABAAACAkQBADs=">
<img src="/static/no-such-picture.png" alt="">
<div style="width: 600px">Too wide for a phone.</div>
<script>console.error("broken on purpose")</script>
</main></body></html>"""


def test_a_broken_page_fails_every_check(open_tab, shop):
    tab = open_tab()
    tab.page.route(
        f"{shop.url}/broken-on-purpose",
        lambda route: route.fulfill(status=200, content_type="text/html", body=BROKEN),
    )
    tab.goto("/broken-on-purpose")
    with pytest.raises(AssertionError) as failure:
        tab.step("broken-on-purpose")
    message = str(failure.value)
    assert "[critical] image-alt" in message
    assert "at 375 px the page is 6" in message  # 600 px plus the margins
    assert "broken on purpose" in message  # the console error
    assert "HTTP 404 for GET" in message and "no-such-picture.png" in message
