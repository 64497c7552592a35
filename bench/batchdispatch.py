"""A morning after a launch: one batch dispatch of many orders (500 in the full run) on the
served shop with the full dataset, timed as staff would meet it: the confirmation page that
lists them with a tracking field each, then the POST that dispatches them all in one
transaction (a ``transition`` per order, a timeline event and a dispatch email each).

It runs last on a dataset, because it changes it: the orders it takes stop being "to pack"."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from bench.browser import Browser
from bench.inprocess import make_app
from bench.settings import STAFF_EMAIL, STAFF_PASSWORD


def _oldest_to_pack(database_url: str, size: int) -> list[str]:
    from shop.extensions import db
    from shop.orders.desk import packable
    from shop.orders.models import Order

    app = make_app(database_url)
    with app.app_context():
        refs = list(db.session.scalars(
            select(Order.reference).where(packable()).order_by(Order.paid_at, Order.id).limit(size)
        ))
        db.engine.dispose()
    return [ref for ref in refs if ref]


def _dispatched(database_url: str, refs: list[str]) -> tuple[int, int]:
    from shop.emails.models import OutboxEmail
    from shop.extensions import db
    from shop.orders.models import Order

    app = make_app(database_url)
    with app.app_context():
        moved = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.reference.in_(refs), Order.status == "dispatched",
                                                          Order.tracking_number.like("BENCH%"))
        )
        emails = db.session.scalar(
            select(func.count()).select_from(OutboxEmail).join(Order, Order.id == OutboxEmail.order_id)
            .where(Order.reference.in_(refs), OutboxEmail.kind == "dispatch")
        )
        db.engine.dispose()
    return int(moved or 0), int(emails or 0)


def measure(database_url: str, shop_url: str, size: int, log=print) -> dict:
    refs = _oldest_to_pack(database_url, size)
    if not refs:
        return {"orders": 0, "error": "no order to pack in the dataset"}
    browser = Browser(shop_url)
    browser.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
    token = browser.token("/staff/orders?status=to_pack")
    started = time.perf_counter()
    confirmation = browser.post("/staff/orders/batch", {
        "csrf_token": token, "action": "dispatch", "scope": "ticked", "ref": refs, "shown_at": "",
    })
    confirm_seconds = time.perf_counter() - started
    form = {"csrf_token": token, "carrier": "Royal Mail", "ref": refs}
    form.update({f"tracking-{ref}": f"BENCH{n:08d}GB" for n, ref in enumerate(refs)})
    started = time.perf_counter()
    answer = browser.post("/staff/orders/batch/dispatch", form)
    dispatch_seconds = time.perf_counter() - started
    moved, emails = _dispatched(database_url, refs)
    result = {
        "orders": len(refs), "confirm_status": confirmation.status_code, "confirm_seconds": round(confirm_seconds, 3),
        "status": answer.status_code, "seconds": round(dispatch_seconds, 3),
        "orders_per_s": round(len(refs) / dispatch_seconds, 1) if dispatch_seconds else None,
        "dispatched": moved, "emails": emails,
    }
    log(f"  batch dispatch of {len(refs)} orders: confirmation {confirm_seconds:.2f} s, dispatch "
        f"{dispatch_seconds:.2f} s ({answer.status_code}); {moved} dispatched, {emails} emails queued")
    return result
