"""Refunds are a fact beside the status: the cases the status table and the old code disagreed on."""

from shop.orders.refunds import record_refunds
from shop.payments.gateway import RefundInfo
from shop.timeutil import utcnow
from tests.conftest import make_order


def _paid(db, dispatched: bool):
    order = make_order(status="dispatched" if dispatched else "paid")
    order.payment_intent_id = "pi_test_refunds"
    if dispatched:
        order.dispatched_at = utcnow()
    db.session.commit()
    return order


def _refund(amount: int, status: str = "succeeded") -> RefundInfo:
    return RefundInfo(id="re_test_1", amount=amount, currency="gbp", status=status)


def test_a_partial_refund_of_a_dispatched_order_keeps_it_dispatched(db):
    order = _paid(db, dispatched=True)
    record_refunds(order, [_refund(300)], actor="desk@example.org")
    db.session.commit()
    assert order.status == "dispatched" and order.refunded_pence == 300
    assert order.dispatched_at is not None


def test_a_full_refund_after_dispatch_is_refunded_and_still_shows_it_went_out(db):
    order = _paid(db, dispatched=True)
    record_refunds(order, [_refund(order.amount_charged_pence)], actor="desk@example.org")
    db.session.commit()
    assert order.status == "refunded" and order.dispatched_at is not None


def test_a_full_refund_that_later_fails_takes_a_dispatched_order_back_to_dispatched(db):
    order = _paid(db, dispatched=True)
    record_refunds(order, [_refund(order.amount_charged_pence)], actor="desk@example.org")
    db.session.commit()
    record_refunds(order, [_refund(order.amount_charged_pence, "failed")], actor="stripe")
    db.session.commit()
    assert order.status == "dispatched" and order.refunded_pence == 0


def test_a_full_refund_that_later_fails_takes_an_undispatched_order_back_to_paid(db):
    order = _paid(db, dispatched=False)
    record_refunds(order, [_refund(order.amount_charged_pence)], actor="desk@example.org")
    db.session.commit()
    assert order.status == "refunded"
    record_refunds(order, [_refund(order.amount_charged_pence, "failed")], actor="stripe")
    db.session.commit()
    assert order.status == "paid" and order.refunded_pence == 0 and order.can_dispatch
