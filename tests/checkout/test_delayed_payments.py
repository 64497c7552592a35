"""Payments that take days (Bacs Direct Debit), and the other ways a checkout completes unpaid:
the order waits with its copies reserved, then is paid or closed exactly once, whichever part
of the shop hears first."""

from datetime import timedelta

import requests
from sqlalchemy import func, select

from shop.catalogue.models import Publication
from shop.emails.models import OutboxEmail
from shop.orders.models import Order, OrderEvent
from tests.conftest import (
    ISBN,
    Shopper,
    cancel_link,
    deliver_all,
    deliver_event,
    pay,
    start_checkout,
)


def order_of(db, session_id) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


def stock(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Publication.stock).filter_by(isbn=ISBN))


def emails(db, order, kind: str) -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEmail).filter_by(order_id=order.id, kind=kind)))


def events_of(db, order, kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(OrderEvent).filter_by(order_id=order.id, kind=kind)
    )


def pay_by_bacs(sandbox, session_id, account: str = "00012345") -> str:
    [event_id] = pay(sandbox, session_id, payment_method="bacs_debit", account_number=account)
    return event_id


def age(db, session_id, minutes: int = 60) -> None:
    """Make an order look older than its checkout's expiry."""
    order = order_of(db, session_id)
    order.created_at -= timedelta(minutes=minutes)
    db.session.commit()


def test_a_bank_payment_keeps_the_order_waiting_with_its_copies(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    completed = pay_by_bacs(sandbox, session_id)
    assert deliver_event(client, sandbox, completed).get_json()["outcome"].endswith("payment_processing")
    order = order_of(db, session_id)
    assert order.status == "payment_processing" and order.paid_at is None
    assert order.amount_charged_pence is None  # nothing is charged yet
    assert (order.customer_email, order.ship_postal_code) == ("nurse@example.org", "LS1 1AA")
    assert stock(db) == 98
    assert emails(db, order, "confirmation") == []
    page = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "your payment is processing" in page
    assert "we will email you at nurse@example.org" in page.replace("\n", " ")
    assert shopper.basket() == {}  # the checkout is complete: the basket is done with


def test_the_success_page_alone_records_a_processing_payment(client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    pay_by_bacs(sandbox, session_id)
    assert client.get(f"/checkout/success?session_id={session_id}").status_code == 200
    assert order_of(db, session_id).status == "payment_processing"
    assert shopper.basket() == {}


def test_expire_stale_never_closes_a_processing_payment(client, runner, shopper, sandbox, db, publication):
    """Its webhook missed, a Bacs order past its checkout's expiry is still waiting for the bank."""
    session_id = start_checkout(shopper, sandbox, quantity=3)
    pay_by_bacs(sandbox, session_id)
    age(db, session_id)
    result = runner.invoke(args=["orders", "expire-stale"])
    assert result.exit_code == 0, result.output
    assert "pending_payment -> payment_processing\tStripe says the payment is processing" in result.output
    assert order_of(db, session_id).status == "payment_processing"
    assert stock(db) == 97
    # A later run leaves it alone: its checkout is complete.
    assert "Settled 0 stale order(s)." in runner.invoke(args=["orders", "expire-stale"]).output
    assert sandbox.events("checkout.session.expired") == []


def test_then_paid_once_with_one_confirmation(client, runner, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    completed = pay_by_bacs(sandbox, session_id)
    deliver_event(client, sandbox, completed)
    age(db, session_id)
    runner.invoke(args=["orders", "expire-stale"])
    sandbox.post(f"/_sandbox/sessions/{session_id}/async")  # the bank account says: it pays
    [succeeded] = sandbox.events("checkout.session.async_payment_succeeded")
    for _ in range(2):  # and Stripe delivers it twice
        assert deliver_event(client, sandbox, succeeded["id"]).status_code == 200
    assert deliver_event(client, sandbox, completed).status_code == 200  # a late redelivery
    order = order_of(db, session_id)
    assert order.status == "paid" and order.paid_at is not None
    assert order.amount_charged_pence == order.total_pence and not order.amount_mismatch
    assert events_of(db, order, "paid") == 1
    [confirmation] = emails(db, order, "confirmation")
    assert "We have your payment" in confirmation.text_body and "LS1 1AA" in confirmation.text_body
    assert emails(db, order, "payment_failed") == []
    assert stock(db) == 98
    text = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "your order is confirmed" in text


def test_or_failed_once_with_the_copies_back_and_one_email(client, runner, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    completed = pay_by_bacs(sandbox, session_id, account="22222227")  # its payments fail
    deliver_event(client, sandbox, completed)
    age(db, session_id)
    runner.invoke(args=["orders", "expire-stale"])
    assert stock(db) == 98
    sandbox.post(f"/_sandbox/sessions/{session_id}/async")
    assert deliver_all(client, sandbox) == [200, 200]
    assert deliver_all(client, sandbox) == [200, 200]  # every event again
    order = order_of(db, session_id)
    assert order.status == "payment_failed" and order.closed_at is not None
    assert stock(db) == 100
    [failed] = emails(db, order, "payment_failed")
    assert failed.subject == f"Your payment for order {order.reference} did not go through"
    assert "No money has been taken" in failed.text_body and order.reference in failed.html_body
    assert failed.recipient == "nurse@example.org"
    assert emails(db, order, "confirmation") == []
    text = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "Your payment did not go through" in text


def test_reconcile_rechecks_payments_still_processing(client, runner, sandbox, stripe_server, db, publication):
    """The async_payment events never arrived: reconcile asks Stripe about every order whose
    payment is processing, however old."""
    sessions = [start_checkout(Shopper(client.application.test_client()), sandbox, quantity=1) for _ in range(3)]
    for session_id in sessions:
        deliver_event(client, sandbox, pay_by_bacs(sandbox, session_id, account="22222227"
                                                   if session_id == sessions[1] else "00012345"))
    sandbox.post(f"/_sandbox/sessions/{sessions[0]}/async")  # pays
    sandbox.post(f"/_sandbox/sessions/{sessions[1]}/async")  # fails
    # sessions[2] is still processing. All three are older than --since:
    with stripe_server.state.lock:
        for session_id in sessions:
            stripe_server.state.objects["checkout.session"][session_id]["created"] -= 10 * 86400
    result = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert result.exit_code == 0, result.output
    assert "Looked at 0 completed session(s), 3 older payment(s) processing and 0 invoice(s) not yet paid; changed 2 order(s)." in result.output
    assert [order_of(db, s).status for s in sessions] == ["paid", "payment_failed", "payment_processing"]
    assert stock(db) == 98
    again = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    assert "changed 0 order(s)" in again.output


def test_the_back_link_never_cancels_a_completed_bank_payment(client, shopper, sandbox, db, publication):
    """The customer paid by Direct Debit in another tab, then pressed Stripe's back link here."""
    session_id = start_checkout(shopper, sandbox, quantity=2)
    pay_by_bacs(sandbox, session_id)
    response = client.get(cancel_link(sandbox))
    assert response.headers["Location"].startswith(f"/checkout/success?session_id={session_id}")
    assert order_of(db, session_id).status == "payment_processing"
    assert stock(db) == 98


def test_nothing_to_pay_is_recorded_and_flagged(client, shopper, sandbox, db, publication):
    """Stripe completes a session with ``no_payment_required`` only when nothing is owed; the
    shop's orders always cost something, so it is recorded as paid and flagged for staff."""
    session_id = start_checkout(shopper, sandbox)
    [completed] = pay(sandbox, session_id, amount_total=0)
    assert sandbox.get(f"/_sandbox/events/{completed}")["event"]["data"]["object"]["payment_status"] == (
        "no_payment_required"
    )
    assert deliver_event(client, sandbox, completed).status_code == 200
    order = order_of(db, session_id)
    assert order.status == "paid" and order.amount_mismatch and order.amount_charged_pence == 0
    assert events_of(db, order, "no_payment_required") == 1


def test_stripe_payment_methods_are_sent_and_offered(app, client, shopper, sandbox, db, publication):
    app.config["STRIPE_PAYMENT_METHODS"] = ("card",)
    shopper.add()
    assert "Pay by card" in shopper.basket_page()
    session_id = start_checkout(shopper, sandbox, quantity=1)
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    assert request["params"]["allowed_payment_method_types"] == ["card"]
    page = requests.get(f"{sandbox.url}/pay/{session_id}", timeout=10).text
    assert "Card number" in page and "Bacs Direct Debit" not in page


def test_by_default_the_dashboards_methods_are_offered(client, shopper, sandbox, db, publication):
    shopper.add()
    assert "Continue to payment" in shopper.basket_page()
    session_id = start_checkout(shopper, sandbox)
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    assert "allowed_payment_method_types" not in request["params"]
    page = requests.get(f"{sandbox.url}/pay/{session_id}", timeout=10).text
    assert "Card number" in page and "Bacs Direct Debit" in page


def test_the_desk_shows_payments_processing(client, staff_client, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    deliver_event(client, sandbox, pay_by_bacs(sandbox, session_id))
    order = order_of(db, session_id)
    listing = staff_client.get("/staff/orders?status=payment_processing").get_data(as_text=True)
    assert order.reference in listing and "Payment processing" in listing
    assert order.reference not in staff_client.get("/staff/orders").get_data(as_text=True)  # not a paid order
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "Stripe is still collecting this payment" in page
    assert "Mark dispatched" not in page and "Refund through Stripe" not in page
