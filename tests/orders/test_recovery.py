"""Missed webhooks recovered from Stripe: `orders reconcile` and `orders expire-stale`."""

from datetime import timedelta

from sqlalchemy import select

from shop.catalogue.models import Publication
from shop.orders.models import Order
from shop.payments import gateway
from tests.conftest import ISBN, Shopper, pay, start_checkout


def order_statuses(db) -> list[str]:
    db.session.expire_all()
    return [o.status for o in db.session.scalars(select(Order).order_by(Order.id))]


def test_reconcile_fulfils_paid_sessions_whose_webhooks_were_missed(app, runner, sandbox, db, publication):
    sessions = []
    for _ in range(3):
        sessions.append(start_checkout(Shopper(app.test_client()), sandbox, quantity=1))
    for session_id in sessions[:2]:
        pay(sandbox, session_id)  # paid at Stripe; no webhook reaches us
    first = runner.invoke(args=["orders", "reconcile", "--since", "7d"])
    assert first.exit_code == 0, first.output
    assert "changed 2 order(s)" in first.output
    assert first.output.count("pending_payment -> paid") == 2
    assert order_statuses(db) == ["paid", "paid", "pending_payment"]
    second = runner.invoke(args=["orders", "reconcile", "--since", "7d"])
    assert "changed 0 order(s)" in second.output


def test_reconcile_pages_through_stripes_list(app, runner, sandbox, db, publication, monkeypatch):
    # Pages of 4 (Stripe's are 100): eleven sessions are three pages, the last one short.
    monkeypatch.setattr(gateway, "LIST_PAGE_SIZE", 4)
    for _ in range(11):
        pay(sandbox, start_checkout(Shopper(app.test_client()), sandbox, quantity=1))
    result = runner.invoke(args=["orders", "reconcile", "--since", "1d"])
    pages = sandbox.requests_to("/v1/checkout/sessions", method="GET")
    assert [("starting_after" in r["params"], r["params"]["limit"]) for r in pages] == [
        (False, "4"), (True, "4"), (True, "4")]
    assert "Looked at 11 completed session(s), 0 older payment(s) processing and 0 invoice(s) not yet paid; changed 11 order(s)." in result.output
    assert set(order_statuses(db)) == {"paid"}


def test_reconcile_refuses_a_bad_period(runner, db):
    result = runner.invoke(args=["orders", "reconcile", "--since", "a week"])
    assert result.exit_code != 0 and "7d, 12h or 30m" in result.output


def test_reconcile_with_stripe_down_changes_nothing(app, runner, sandbox, db, publication):
    pay(sandbox, start_checkout(Shopper(app.test_client()), sandbox))
    sandbox.post("/_sandbox/fail", count=5, status=500)
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code != 0 and "could not reach" in result.output
    assert order_statuses(db) == ["pending_payment"]


def test_expire_stale_settles_as_stripe_says(app, runner, sandbox, db, publication):
    paid_session = start_checkout(Shopper(app.test_client()), sandbox, quantity=1)
    open_session = start_checkout(Shopper(app.test_client()), sandbox, quantity=2)
    fresh_session = start_checkout(Shopper(app.test_client()), sandbox, quantity=4)
    pay(sandbox, paid_session)
    for order in db.session.scalars(select(Order).where(Order.stripe_session_id.in_([paid_session, open_session]))):
        order.created_at -= timedelta(hours=1)
    db.session.commit()
    result = runner.invoke(args=["orders", "expire-stale"])
    assert result.exit_code == 0, result.output
    assert "Settled 2 stale order(s)." in result.output
    db.session.expire_all()
    by_session = {o.stripe_session_id: o.status for o in db.session.scalars(select(Order))}
    assert by_session == {paid_session: "paid", open_session: "expired", fresh_session: "pending_payment"}
    assert db.session.scalar(select(Publication.stock).filter_by(isbn=ISBN)) == 100 - 1 - 4
    assert "Settled 0 stale order(s)." in runner.invoke(args=["orders", "expire-stale"]).output


def test_expire_stale_closes_a_checkout_that_never_reached_stripe(runner, db, publication):
    """The process died between recording the order and calling Stripe: no session id."""
    from shop.basket.postage import find_region
    from shop.basket.services import price_basket
    from shop.checkout.services import place_order
    from shop.config import POSTAGE_REGIONS

    order = place_order(price_basket({ISBN: 5}, find_region(POSTAGE_REGIONS, "uk")), "KF")
    order.created_at -= timedelta(hours=2)
    db.session.commit()
    assert db.session.scalar(select(Publication.stock)) == 95
    result = runner.invoke(args=["orders", "expire-stale"])
    assert "pending_payment -> failed_to_start\tno Stripe session" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(Publication.stock)) == 100


def test_expire_stale_keeps_what_it_did_when_stripe_fails_part_way(app, runner, sandbox, db, publication):
    sessions = [start_checkout(Shopper(app.test_client()), sandbox, quantity=1) for _ in range(2)]
    for order in db.session.scalars(select(Order)):
        order.created_at -= timedelta(hours=1)
    db.session.commit()
    # Stripe answers for the first order, and is down for the second.
    sandbox.post("/_sandbox/fail", count=10, status=500, path_prefix=f"/v1/checkout/sessions/{sessions[1]}")
    result = runner.invoke(args=["orders", "expire-stale"])
    assert result.exit_code != 0 and "(1 change(s) kept)" in result.output
    assert order_statuses(db) == ["expired", "pending_payment"]


def test_reconcile_reports_each_session_for_a_progress_bar_bounded_by_our_checkouts(app, sandbox, db, publication):
    from shop.orders.recovery import Progress, checkouts_since, reconcile
    from shop.timeutil import utcnow

    for _ in range(3):
        pay(sandbox, start_checkout(Shopper(app.test_client()), sandbox, quantity=1))
    start_checkout(Shopper(app.test_client()), sandbox, quantity=1)  # never paid
    since = utcnow() - timedelta(days=1)
    steps: list[int] = []
    progress = Progress(advance=steps.append)
    for _change in reconcile(since, progress):
        db.session.commit()
    assert steps == [1, 1, 1] and progress.sessions_seen == 3
    assert checkouts_since(since) == 4  # the bar's length: at most this many sessions completed
