"""Stock is reserved at checkout and never oversold, however many buy the last copies at once."""


import requests
from sqlalchemy import func, select

from shop.catalogue.models import Publication
from shop.orders.models import Order
from tests.conftest import ISBN, cancel_link, deliver_event, make_publication, pay, start_checkout
from tests.support import form_token, race


def stock(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Publication.stock).filter_by(isbn=ISBN))


def test_checkout_reserves_and_expiry_releases(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=3)
    assert stock(db) == 97
    sandbox.post(f"/_sandbox/sessions/{session_id}/expire")
    [event] = sandbox.events("checkout.session.expired")
    deliver_event(client, sandbox, event["id"])
    deliver_event(client, sandbox, event["id"])  # a redelivery releases nothing twice
    assert stock(db) == 100


def test_payment_keeps_the_reservation(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=3)
    [event_id] = pay(sandbox, session_id)
    deliver_event(client, sandbox, event_id)
    assert stock(db) == 97


def test_a_checkout_that_fails_to_start_releases(shopper, sandbox, db, publication):
    shopper.add(quantity=4)
    sandbox.post("/_sandbox/fail", count=3, status=503)
    shopper.checkout()
    assert stock(db) == 100


def test_cancelling_releases(client, shopper, sandbox, db, publication):
    start_checkout(shopper, sandbox, quantity=4)
    client.get(cancel_link(sandbox))
    assert stock(db) == 100


def test_a_late_payment_after_expiry_takes_the_copies_again(client, shopper, sandbox, db, publication):
    from shop.orders.services import close_checkout

    session_id = start_checkout(shopper, sandbox, quantity=2)
    [paid] = pay(sandbox, session_id)  # Stripe takes the payment; its event is still on the way
    # Meanwhile the shop closed the order (as it did when it trusted an expiry it had been
    # told about) and put its copies back.
    close_checkout(session_id, "expired", actor="test")
    db.session.commit()
    assert stock(db) == 100
    assert deliver_event(client, sandbox, paid).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "paid"
    assert stock(db) == 98


def test_no_oversell_when_many_buy_the_last_copies_at_once(app, live_server, sandbox, db):
    make_publication(stock=3)
    customers = 8
    browsers = []
    for _ in range(customers):
        browser = requests.Session()
        added = browser.post(f"{live_server}/basket/add", data={"isbn": ISBN, "quantity": "1"})
        assert "Added 1 copy" in added.text
        token = form_token(added.text)
        browsers.append((browser, token))

    def check_out(index: int) -> str:
        browser, token = browsers[index]
        response = browser.post(f"{live_server}/checkout", data={"csrf_token": token}, allow_redirects=False, timeout=60)
        location = response.headers.get("Location", "")
        if location.startswith(sandbox.url):
            return "stripe"
        basket = browser.get(f"{live_server}/basket").text
        # Refused either at the reservation ("has just sold out") or, arriving after it, by
        # the basket's own stock check ("Out of stock").
        refused = "has just sold out" in basket or "Out of stock" in basket
        return "sold out" if refused else basket

    outcomes = race(customers, check_out)
    assert outcomes.count("stripe") == 3, outcomes
    assert outcomes.count("sold out") == customers - 3, outcomes
    assert len(sandbox.requests_to("/v1/checkout/sessions")) == 3
    assert stock(db) == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(Order.status == "pending_payment")) == 3
