"""Webhook events in any API version: Stripe renders each in its endpoint's version (by default
the account's, not the SDK's), so the shop reads only ids from the payload and asks Stripe for
the session itself."""

import json
import logging

from sqlalchemy import select, update

from sandbox import sign_payload
from shop.orders.models import Order, OrderEvent, StripeEvent
from shop.payments.gateway import API_VERSION
from tests.conftest import WEBHOOK_SECRET, deliver_event, pay, post_webhook, start_checkout

LEGACY = "2024-06-20"  # before 2025-03-31.basil: shipping at the top level, no collected_information


def order_of(db, session_id) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


def address(order) -> tuple:
    return (order.ship_name, order.ship_line1, order.ship_city, order.ship_postal_code, order.ship_country)


PAID_TO = ("Ada Nurse", "1 Ward Street", "Leeds", "LS1 1AA", "GB")


def test_a_legacy_shaped_completed_event_still_records_the_address(client, shopper, sandbox, db, publication, caplog):
    sandbox.post("/_sandbox/config", api_version=LEGACY)  # the account's default, as on many accounts
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    payload = json.loads(sandbox.event_payload(event_id))
    session = payload["data"]["object"]
    assert payload["api_version"] == LEGACY
    assert "collected_information" not in session and session["shipping_details"]["address"]["line1"] == "1 Ward Street"
    with caplog.at_level(logging.WARNING, logger="shop.checkout.services"):
        assert deliver_event(client, sandbox, event_id).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "paid" and address(order) == PAID_TO
    assert db.session.get(StripeEvent, event_id).api_version == LEGACY
    assert any(LEGACY in record.getMessage() and "webhook-setup" in record.getMessage() for record in caplog.records)


def test_an_event_in_the_shops_version_is_recorded_without_a_warning(client, shopper, sandbox, db, publication, caplog):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    with caplog.at_level(logging.WARNING, logger="shop.checkout.services"):
        assert deliver_event(client, sandbox, event_id).status_code == 200
    assert db.session.get(StripeEvent, event_id).api_version == API_VERSION
    assert [r for r in caplog.records if r.name == "shop.checkout.services"] == []
    assert address(order_of(db, session_id)) == PAID_TO


def test_every_version_the_sandbox_renders_gives_the_same_order(client, app, sandbox, db, publication):
    """The same checkout, delivered as endpoints in four versions would receive it."""
    from tests.conftest import Shopper

    for version in ("2024-06-20", "2025-02-24.acacia", "2025-03-31.basil", API_VERSION):
        session_id = start_checkout(Shopper(app.test_client()), sandbox, quantity=1)
        [event_id] = pay(sandbox, session_id)
        assert deliver_event(client, sandbox, event_id, api_version=version).status_code == 200
        order = order_of(db, session_id)
        assert (order.status, address(order)) == ("paid", PAID_TO), version


def _lose_the_address(db, session_id) -> None:
    """What the shop recorded when it read a legacy payload: paid, no delivery address."""
    db.session.execute(
        update(Order).where(Order.stripe_session_id == session_id)
        .values(ship_name=None, ship_line1=None, ship_city=None, ship_postal_code=None, ship_country=None)
    )
    db.session.commit()


def _recorded(db, order) -> list[OrderEvent]:
    return list(db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind="address_recorded")))


def test_an_order_paid_without_an_address_is_repaired_by_the_success_page(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    deliver_event(client, sandbox, pay(sandbox, session_id)[0])
    _lose_the_address(db, session_id)
    page = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "1 Ward Street" in page
    order = order_of(db, session_id)
    assert address(order) == PAID_TO and len(_recorded(db, order)) == 1
    client.get(f"/checkout/success?session_id={session_id}")  # a second visit changes nothing
    assert len(_recorded(db, order_of(db, session_id))) == 1


def test_an_order_paid_without_an_address_is_repaired_by_the_next_event(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    deliver_event(client, sandbox, event_id)
    _lose_the_address(db, session_id)
    event = json.loads(sandbox.event_payload(event_id))
    event["id"] = "evt_later_about_the_same_session"
    payload = json.dumps(event)
    assert post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET)).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "paid" and address(order) == PAID_TO and len(_recorded(db, order)) == 1


def test_an_order_paid_without_an_address_is_repaired_by_reconcile(client, runner, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    deliver_event(client, sandbox, pay(sandbox, session_id)[0])
    _lose_the_address(db, session_id)
    result = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert "paid -> paid\tdelivery address recorded from Stripe" in result.output
    assert address(order_of(db, session_id)) == PAID_TO
    assert "changed 0 order(s)" in runner.invoke(args=["orders", "reconcile", "--since", "1d"]).output


def test_a_forged_payload_cannot_change_what_is_recorded(client, shopper, sandbox, db, publication):
    """A payload (validly signed, say by a leaked secret) claiming a paid session: Stripe says
    the session is open, so nothing is recorded."""
    session_id = start_checkout(shopper, sandbox)
    event = {"id": "evt_forged", "object": "event", "type": "checkout.session.completed", "api_version": API_VERSION,
             "data": {"object": {"object": "checkout.session", "id": session_id, "status": "complete",
                                 "payment_status": "paid", "amount_total": 1, "currency": "gbp"}}}
    payload = json.dumps(event)
    assert post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET)).status_code == 200
    assert order_of(db, session_id).status == "pending_payment"
