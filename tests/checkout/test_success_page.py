"""The page Stripe sends a buyer back to: it shows an address, so nothing may keep it, and it
asks Stripe only about this browser's own pending checkout (finding 7)."""

from tests.checkout.test_payment import order_of
from tests.conftest import pay, start_checkout


def session_lookups(sandbox, session_id: str) -> int:
    return len(sandbox.requests_to(f"/v1/checkout/sessions/{session_id}", method="GET"))


def test_the_success_page_is_never_stored(shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    pay(sandbox, session_id)
    response = shopper.client.get(f"/checkout/success?session_id={session_id}")
    assert response.status_code == 200 and "1 Ward Street" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"].startswith("no-store")


def test_another_browser_does_not_make_the_shop_ask_stripe(app, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    stranger = app.test_client()
    before = session_lookups(sandbox, session_id)
    for _ in range(5):
        page = stranger.get(f"/checkout/success?session_id={session_id}")
        assert page.status_code == 200 and "waiting for your payment" in page.get_data(as_text=True)
        assert page.headers["Cache-Control"].startswith("no-store")
    assert session_lookups(sandbox, session_id) == before
    assert order_of(db, session_id).status == "pending_payment"


def test_the_buyers_own_browser_still_records_the_payment_at_once(shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    pay(sandbox, session_id)
    before = session_lookups(sandbox, session_id)
    page = shopper.client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "your order is confirmed" in page
    assert session_lookups(sandbox, session_id) == before + 1
    assert order_of(db, session_id).status == "paid"
    assert shopper.basket() == {}
