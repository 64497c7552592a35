"""Recording payments: the webhook, the success page, and their races."""

import json
import time

import requests
from sqlalchemy import select

from sandbox import sign_payload
from shop.catalogue.models import Publication
from shop.orders.models import Order, OrderEvent
from tests.conftest import (
    ISBN,
    WEBHOOK_SECRET,
    Shopper,
    cancel_link,
    deliver_event,
    pay,
    post_webhook,
    start_checkout,
)
from tests.support import form_token, race


def order_of(db, session_id) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


def paid_events(db, order) -> int:
    return len(db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind="paid")).all())


def stock(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Publication.stock).filter_by(isbn=ISBN))


def test_webhook_marks_the_order_paid_with_what_stripe_knows(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    [event_id] = pay(sandbox, session_id)
    response = deliver_event(client, sandbox, event_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    order = order_of(db, session_id)
    assert order.status == "paid" and order.paid_at is not None
    assert order.payment_intent_id.startswith("pi_")
    assert order.amount_charged_pence == order.total_pence == 2095 and order.currency_charged == "gbp"
    assert not order.amount_mismatch
    assert (order.customer_email, order.customer_name) == ("nurse@example.org", "Ada Nurse")
    assert (order.ship_line1, order.ship_city, order.ship_postal_code, order.ship_country) == (
        "1 Ward Street", "Leeds", "LS1 1AA", "GB",
    )
    assert stock(db) == 98


def test_the_same_event_twice_changes_the_order_once(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    assert deliver_event(client, sandbox, event_id).get_json()["outcome"].endswith("paid")
    assert deliver_event(client, sandbox, event_id).get_json()["outcome"] == "duplicate"
    order = order_of(db, session_id)
    assert paid_events(db, order) == 1
    assert stock(db) == 98


def test_two_events_for_one_order_change_it_once(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    pay(sandbox, session_id, payment_method="bacs_debit")
    sandbox.post(f"/_sandbox/sessions/{session_id}/async", succeeded=True)
    types = [event["type"] for event in sandbox.events()]
    assert types == ["checkout.session.completed", "checkout.session.async_payment_succeeded"]
    for event in sandbox.events():
        assert deliver_event(client, sandbox, event["id"]).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "paid" and paid_events(db, order) == 1
    assert stock(db) == 98


def test_concurrent_deliveries_fulfil_once(app, live_server, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    payload = sandbox.event_payload(event_id)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)}
    statuses = race(20, lambda _: requests.post(live_server + "/stripe/webhook", data=payload, headers=headers,
                                               timeout=30).status_code)
    assert statuses == [200] * 20
    order = order_of(db, session_id)
    assert order.status == "paid" and paid_events(db, order) == 1
    assert stock(db) == 98


def test_success_page_records_the_payment_before_the_webhook(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    [event_id] = pay(sandbox, session_id)
    page = client.get(f"/checkout/success?session_id={session_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    order = order_of(db, session_id)
    assert order.status == "paid"
    assert order.reference in text and "your order is confirmed" in text
    assert "£17.00" in text and "£3.95" in text and "£20.95" in text
    assert "1 Ward Street" in text and "LS1 1AA" in text
    assert shopper.basket() == {}
    # The late webhook finds the work done.
    assert deliver_event(client, sandbox, event_id).status_code == 200
    assert paid_events(db, order_of(db, session_id)) == 1
    assert stock(db) == 98


def test_success_page_races_the_webhook(app, live_server, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    payload = sandbox.event_payload(event_id)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)}
    # The buyer's own browser: only its pending checkout makes the page ask Stripe.
    cookies = {"session": shopper.client.get_cookie("session").value}
    kinds = ["webhook", "page"] * 3

    def hit(index: int) -> int:
        if kinds[index] == "webhook":
            return requests.post(live_server + "/stripe/webhook", data=payload, headers=headers, timeout=30).status_code
        return requests.get(f"{live_server}/checkout/success?session_id={session_id}", cookies=cookies, timeout=30).status_code

    assert race(len(kinds), hit) == [200] * 6
    assert paid_events(db, order_of(db, session_id)) == 1
    assert stock(db) == 98


def test_a_buyer_who_never_came_back_finds_an_empty_basket_once_the_webhook_paid(client, shopper, sandbox, db, publication):
    # The basket's own hook (shop.checkout.views.settle_paid_checkout, registered for the
    # basket's pages only): paid by webhook while the buyer was away from the success page.
    session_id = start_checkout(shopper, sandbox, quantity=2)
    [event_id] = pay(sandbox, session_id)
    assert deliver_event(client, sandbox, event_id).status_code == 200
    assert client.get(f"/publications/{ISBN}").status_code == 200  # not a basket page: left alone
    assert shopper.basket() == {ISBN: 2}
    assert "Your basket is empty" in shopper.basket_page()
    assert shopper.basket() == {}


def test_an_unpaid_session_is_not_recorded_as_paid(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    text = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "waiting for your payment" in text
    assert order_of(db, session_id).status == "pending_payment"
    assert shopper.basket() == {ISBN: 2}


def test_success_page_for_unknown_sessions_is_404(client, sandbox, db, publication):
    assert client.get("/checkout/success?session_id=cs_test_nope").status_code == 404
    assert client.get("/checkout/success").status_code == 404
    assert client.get("/checkout/success?session_id=" + "x" * 5000).status_code == 404


def test_an_amount_mismatch_is_recorded_and_flagged(client, runner, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id, amount_total=100)
    assert deliver_event(client, sandbox, event_id).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "paid" and order.amount_mismatch
    assert order.amount_charged_pence == 100 and order.total_pence == 2095
    kinds = [event.kind for event in order.events]
    assert "amount_mismatch" in kinds
    listing = runner.invoke(args=["orders", "list"]).output
    assert order.reference in listing and "amount mismatch" in listing


def test_a_currency_mismatch_is_flagged(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id, currency="eur")
    deliver_event(client, sandbox, event_id)
    assert order_of(db, session_id).amount_mismatch


def test_expiry_closes_the_pending_order(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    sandbox.post(f"/_sandbox/sessions/{session_id}/expire")
    [event] = sandbox.events("checkout.session.expired")
    assert deliver_event(client, sandbox, event["id"]).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "expired" and order.closed_at is not None
    assert stock(db) == 100


def test_async_payment_failure_closes_the_order(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    pay(sandbox, session_id, payment_method="bacs_debit")
    sandbox.post(f"/_sandbox/sessions/{session_id}/async", succeeded=False)
    for event in sandbox.events():
        assert deliver_event(client, sandbox, event["id"]).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "payment_failed" and order.closed_at is not None
    assert stock(db) == 100


def test_expiry_never_closes_a_paid_order(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [paid_event] = pay(sandbox, session_id)
    deliver_event(client, sandbox, paid_event)
    forged_expiry = json.loads(sandbox.event_payload(paid_event))
    forged_expiry.update(id="evt_test_expired_late", type="checkout.session.expired")
    payload = json.dumps(forged_expiry)
    assert post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET)).status_code == 200
    assert order_of(db, session_id).status == "paid"


def test_tampered_unsigned_stale_and_wrongly_signed_webhooks_are_refused(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    payload = sandbox.event_payload(event_id)
    tampered = payload.replace('"paid"', '"paid" ', 1)
    cases = [
        (tampered, sign_payload(payload, WEBHOOK_SECRET)),
        (payload, None),
        (payload, ""),
        (payload, sign_payload(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)),
        (payload, sign_payload(payload, "whsec_someone_else")),
        ("not json", sign_payload("not json", WEBHOOK_SECRET)),
    ]
    for body, signature in cases:
        response = post_webhook(client, body, signature)
        assert response.status_code == 400, (body[:30], signature)
    assert order_of(db, session_id).status == "pending_payment"


def test_unknown_event_types_and_foreign_sessions_are_acknowledged(client, sandbox, db, publication):
    for event in [
        {"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {"object": "customer", "id": "cus_1"}}},
        {"id": "evt_2", "object": "event", "type": "checkout.session.completed",
         "data": {"object": {"object": "checkout.session", "id": "cs_test_not_ours", "status": "complete", "payment_status": "paid", "amount_total": 1, "currency": "gbp"}}},
    ]:
        payload = json.dumps(event)
        response = post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET))
        assert response.status_code == 200
    assert db.session.scalars(select(Order)).all() == []


def test_cancelling_returns_to_an_intact_basket_and_closes_the_checkout(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    response = client.get(cancel_link(sandbox))
    assert response.headers["Location"] == "/basket"
    assert "Payment cancelled" in shopper.basket_page()
    assert shopper.basket() == {ISBN: 2}
    assert order_of(db, session_id).status == "cancelled"
    [expired] = sandbox.events("checkout.session.expired")  # Stripe's session was closed too
    assert json.loads(sandbox.event_payload(expired["id"]))["data"]["object"]["id"] == session_id


def test_the_whole_journey_with_webhooks_delivered_by_stripe(app, live_server, sandbox, db, publication):
    """As a customer: catalogue, publication page, basket, Stripe's page, confirmation."""

    sandbox.post("/_sandbox/config", webhook_url=live_server + "/stripe/webhook", webhook_secret=WEBHOOK_SECRET, deliver_webhooks=True)
    browser = requests.Session()
    page = browser.get(live_server + "/?q=1-85717-640-5").text
    assert "Leadership and engagement" in page
    page = browser.get(f"{live_server}/publications/{ISBN}").text
    assert "Add to basket" in page and "Set-Cookie" not in browser.get(f"{live_server}/publications/{ISBN}").headers
    # The add form carries no token (a same-origin POST needs none); the basket's forms do.
    basket = browser.post(live_server + "/basket/add", data={"isbn": ISBN, "quantity": "3"})
    assert "£25.50" in basket.text
    token = form_token(basket.text)
    pay_page = browser.post(live_server + "/checkout", data={"csrf_token": token})
    assert pay_page.url.startswith(sandbox.url + "/pay/") and "Pay" in pay_page.text
    declined = browser.post(pay_page.url, data={
        "email": "buyer@example.org", "name": "Sam Buyer", "line1": "2 Hospital Road", "line2": "",
        "city": "York", "postal_code": "YO1 7HH", "country": "GB",
        "card_number": "4000 0000 0000 0002", "expiry": "12/34", "cvc": "123",
    })
    assert declined.status_code == 402 and "declined" in declined.text
    session_id = pay_page.url.rsplit("/", 1)[1]
    assert order_of(db, session_id).status == "pending_payment"
    confirmed = browser.post(pay_page.url, data={
        "email": "buyer@example.org", "name": "Sam Buyer", "line1": "2 Hospital Road", "line2": "",
        "city": "York", "postal_code": "YO1 7HH", "country": "GB",
        "card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123",
    })
    assert confirmed.status_code == 200 and confirmed.url.startswith(live_server + "/checkout/success")
    order = order_of(db, session_id)
    assert order.status == "paid" and order.reference in confirmed.text
    assert "your order is confirmed" in confirmed.text and "YO1 7HH" in confirmed.text
    deadline = time.time() + 10
    while time.time() < deadline:
        deliveries = [a for e in sandbox.events("checkout.session.completed") for a in e["delivery_attempts"]]
        if deliveries:
            break
        time.sleep(0.1)
    assert deliveries and deliveries[0]["status"] == 200, deliveries
    assert paid_events(db, order_of(db, session_id)) == 1
    assert "Your basket is empty" in browser.get(live_server + "/basket").text


def test_another_site_cannot_cancel_a_customers_checkout(app, client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    # Someone else's checkout gives a validly signed link, for their own order.
    other = Shopper(app.test_client())
    start_checkout(other, sandbox, quantity=1)
    for link in ["/checkout/cancelled", "/checkout/cancelled?order=forged", cancel_link(sandbox)]:
        assert client.get(link).headers["Location"] == "/basket"
    assert order_of(db, session_id).status == "pending_payment"
    assert sandbox.events("checkout.session.expired") == []


def test_cancelling_an_unknown_stripe_session_is_not_a_crash(client, shopper, sandbox, db, publication):
    start_checkout(shopper, sandbox)
    link = cancel_link(sandbox)
    sandbox.post("/_sandbox/reset")  # Stripe no longer knows the session
    response = client.get(link)
    assert response.status_code == 303 and response.headers["Location"] == "/basket"
