"""Refunds as Stripe reports them: pending until they succeed, failed or cancelled ones never
counted, and the person who pressed Refund credited whichever reaches the shop first."""

import time

from sqlalchemy import select

from shop.orders.models import Order, Refund
from tests.conftest import (
    STAFF_EMAIL,
    deliver_all,
    deliver_event,
    desk_refund_form,
    paid_order_through_stripe,
    refund_at_the_desk,
)


def reload(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def refund_at_desk(client, order, amount: str, token: str = "t1"):
    """The desk's refund, chosen and confirmed (``token`` is kept for the callers' readability:
    each confirmation page carries its own request token)."""
    return refund_at_the_desk(client, order, amount)


def desk_page(client, order) -> str:
    return client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)


def only_refund(db) -> Refund:
    db.session.expire_all()
    [refund] = db.session.scalars(select(Refund)).all()
    return refund


def settle(sandbox, refund: Refund, status: str) -> list[str]:
    return sandbox.post(f"/_sandbox/refunds/{refund.stripe_refund_id}", status=status)["event_ids"]


def test_a_pending_refund_counts_only_when_it_succeeds(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)  # £20.95
    sandbox.post("/_sandbox/config", pending_refunds=True)
    assert refund_at_desk(staff_client, order, "5.00").status_code == 303
    assert "it is pending, and counts once Stripe completes it" in desk_page(staff_client, order)  # the flash
    order = reload(db, order)
    assert (order.refunded_pence, order.refund_pending_pence, order.refundable_pence) == (0, 500, 1595)
    assert only_refund(db).status == "pending" and only_refund(db).created_by == STAFF_EMAIL
    page = desk_page(staff_client, order)
    assert "Refund pending £5.00" in page and "Pending: counted when Stripe completes it" in page
    assert "£5.00 is already on its way" in page
    assert deliver_all(client, sandbox, "charge.refunded") == [200]  # Stripe says: still pending
    assert reload(db, order).refunded_pence == 0
    events = settle(sandbox, only_refund(db), "succeeded")
    assert [e["type"] for e in sandbox.events() if e["id"] in events] == ["refund.updated", "charge.refund.updated"]
    for event_id in events:
        assert deliver_event(client, sandbox, event_id).status_code == 200
    order = reload(db, order)
    assert (order.refunded_pence, order.refund_pending_pence, order.refundable_pence) == (500, 0, 1595)
    assert order.status == "paid" and only_refund(db).status == "succeeded"


def test_a_full_pending_refund_makes_the_order_refunded_only_when_it_succeeds(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/config", pending_refunds=True)
    refund_at_desk(staff_client, order, "20.95")
    order = reload(db, order)
    assert order.status == "paid" and order.refundable_pence == 0
    assert "Refund through Stripe" not in desk_page(staff_client, order)  # nothing left to refund
    [updated, *_] = settle(sandbox, only_refund(db), "succeeded")
    deliver_event(client, sandbox, updated)
    assert reload(db, order).status == "refunded"


def test_a_failed_refund_is_never_counted(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/config", pending_refunds=True)
    refund_at_desk(staff_client, order, "20.95")
    events = settle(sandbox, only_refund(db), "failed")
    assert {e["type"] for e in sandbox.events() if e["id"] in events} == {
        "refund.updated", "charge.refund.updated", "refund.failed"}
    for event_id in events:
        assert deliver_event(client, sandbox, event_id).status_code == 200
    order = reload(db, order)
    assert (order.status, order.refunded_pence, order.refund_pending_pence) == ("paid", 0, 0)
    assert order.refundable_pence == 2095  # Stripe lets it be refunded again
    assert "Failed: nothing was refunded" in desk_page(staff_client, order)
    # A second attempt works, and only it counts.
    sandbox.post("/_sandbox/config", pending_refunds=False)
    refund_at_desk(staff_client, order, "20.95", token="t2")
    order = reload(db, order)
    assert (order.status, order.refunded_pence) == ("refunded", 2095)


def test_a_cancelled_refund_is_never_counted(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/config", pending_refunds=True)
    refund_at_desk(staff_client, order, "3.00")
    [updated, *_] = settle(sandbox, only_refund(db), "canceled")
    deliver_event(client, sandbox, updated)
    order = reload(db, order)
    assert (order.refunded_pence, order.refund_pending_pence) == (0, 0)
    assert "Cancelled: nothing was refunded" in desk_page(staff_client, order)


def test_a_refund_that_fails_after_it_succeeded_is_taken_back(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    refund_at_desk(staff_client, order, "20.95")
    assert reload(db, order).status == "refunded"
    for event_id in settle(sandbox, only_refund(db), "failed"):
        deliver_event(client, sandbox, event_id)
    order = reload(db, order)
    assert (order.status, order.refunded_pence) == ("paid", 0)


def test_a_bank_debit_refund_starts_pending(client, shopper, staff_client, sandbox, db, publication):
    from tests.conftest import pay, start_checkout

    session_id = start_checkout(shopper, sandbox)
    pay(sandbox, session_id, payment_method="bacs_debit")
    sandbox.post(f"/_sandbox/sessions/{session_id}/async")
    deliver_all(client, sandbox)
    order = db.session.scalar(select(Order))
    assert order.status == "paid"
    refund_at_desk(staff_client, order, "1.00")
    assert only_refund(db).status == "pending" and reload(db, order).refund_pending_pence == 100


def test_more_than_is_left_after_a_pending_refund_is_refused_with_a_reason(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/config", pending_refunds=True)
    refund_at_desk(staff_client, order, "20.00")
    page = staff_client.post(f"/staff/orders/{order.reference}/refund/check", data={
        **desk_refund_form(staff_client, order, "0.50"), "amount": "1.00", "choice": "part",
    }).get_data(as_text=True)  # the second refund, chosen before the first was known here
    assert "at most £0.95 (£20.00 is already on its way)" in page
    assert len(sandbox.requests_to("/v1/refunds")) == 1


def test_a_desk_refund_keeps_its_author_when_the_event_comes_first(app, client, staff_client, sandbox, db, publication):
    """Stripe makes the refund, but its answer to the desk is lost (a timeout); its event
    reaches the shop first. The refund is still the staff member's, and pressing Refund again
    on the same form refunds nothing more."""
    order = paid_order_through_stripe(client, sandbox)
    app.config.update(STRIPE_TIMEOUT_SECONDS=1, STRIPE_MAX_RETRIES=0)
    app.extensions.pop("stripe_client", None)
    sandbox.post("/_sandbox/fail", count=1, status=200, delay=1.5, path_prefix="/v1/refunds", method="POST")
    form = desk_refund_form(staff_client, order, "6.00")
    answer = staff_client.post(f"/staff/orders/{order.reference}/refund", data=form)
    assert "could not reach" in answer.get_data(as_text=True)
    deadline = time.time() + 10
    while not sandbox.events("charge.refunded") and time.time() < deadline:
        time.sleep(0.05)
    assert reload(db, order).refunds == []  # the desk recorded nothing
    assert deliver_all(client, sandbox, "charge.refunded") == [200]
    refund = only_refund(db)
    assert refund.created_by == STAFF_EMAIL and reload(db, order).refunded_pence == 600
    staff_client.post(f"/staff/orders/{order.reference}/refund", data=form)  # the same form again
    assert only_refund(db).created_by == STAFF_EMAIL
    assert reload(db, order).refunded_pence == 600
    assert len(sandbox.events("charge.refunded")) == 1  # Stripe made one refund
    assert [r["replayed"] for r in sandbox.requests_to("/v1/refunds")] == [False, True]


def test_a_dashboard_refund_in_an_old_api_version_is_picked_up(app, client, sandbox, db, publication):
    import stripe

    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/config", api_version="2024-06-20")
    stripe.StripeClient(app.config["STRIPE_SECRET_KEY"], base_addresses={"api": sandbox.url}).v1.refunds.create(
        params={"payment_intent": order.payment_intent_id, "amount": 250}
    )
    assert deliver_all(client, sandbox, "charge.refunded") == [200]
    assert only_refund(db).created_by == "Stripe dashboard" and reload(db, order).refunded_pence == 250


def test_an_overlong_author_in_the_metadata_is_cut_to_fit(app, client, sandbox, db, publication):
    """Metadata can be edited in Stripe's dashboard (values up to 500 characters); the refund
    is still recorded, not refused by the database forever."""
    import stripe

    order = paid_order_through_stripe(client, sandbox)
    stripe.StripeClient(app.config["STRIPE_SECRET_KEY"], base_addresses={"api": sandbox.url}).v1.refunds.create(
        params={"payment_intent": order.payment_intent_id, "amount": 100, "metadata": {"refunded_by": "x" * 500}}
    )
    assert deliver_all(client, sandbox, "charge.refunded") == [200]
    assert only_refund(db).created_by == "x" * 320
