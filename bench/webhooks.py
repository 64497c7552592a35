"""Webhook fulfilment rate: pending orders with Checkout Sessions on the local Stripe sandbox,
paid through the sandbox's control API, then their signed ``checkout.session.completed`` events
delivered to the served shop's ``/stripe/webhook`` concurrently.

The orders are made by the shop's own code in-process (``price_basket`` -> ``place_order`` ->
``open_payment``, which calls the sandbox through stripe-python). The shop that receives the
events is served by gunicorn as for the pages, pointed at the sandbox: it verifies each event's
signature, then asks Stripe (the sandbox, over HTTP) for the session, as it does in production.
It runs with ``SHOP_ENV=development`` only because production refuses a plain-HTTP Stripe; the
webhook's path is the same code either way.
"""

from __future__ import annotations

import json
import random
import time

import requests
from sqlalchemy import func, select

from bench import load
from bench.load import Request
from bench.servers import Gunicorn, shop_env
from bench.settings import SECRET_KEY, WEBHOOK_SECRET


def measure(database_url: str, events: int, concurrency: int, seed: int, log=print) -> dict:
    from sandbox import SandboxServer, sign_payload
    from shop import create_app
    from shop.basket.postage import find_region
    from shop.basket.services import price_basket
    from shop.catalogue.models import Publication
    from shop.checkout.services import open_payment, place_order
    from shop.extensions import db
    from shop.orders.models import Order
    from shop.payments.gateway import CheckoutUrls

    rng = random.Random(seed)
    sandbox = SandboxServer(webhook_secret=WEBHOOK_SECRET)
    sandbox.start()
    sandbox.state.configure(deliver_webhooks=False)  # we deliver, concurrently, and time it
    control = requests.Session()
    control.trust_env = False
    env = {**shop_env(database_url), "SHOP_ENV": "development", "STRIPE_API_BASE": sandbox.url,
           "STRIPE_SECRET_KEY": "sk_test_bench"}
    shop = Gunicorn("shop-webhooks", "wsgi:app", env, ready_path="/healthz")
    try:
        shop_url = shop.start().url
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY,
            "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": sandbox.url, "STRIPE_MAX_RETRIES": 0, "SHOP_BASE_URL": shop_url,
        })
        started = time.perf_counter()
        session_ids: list[str] = []
        with app.app_context():
            isbns = list(db.session.scalars(
                select(Publication.isbn).where(Publication.on_sale.is_(True), Publication.stock >= 50)
                .order_by(Publication.id).limit(300)
            ))
            urls = CheckoutUrls(success=shop_url + "/checkout/success?session_id={CHECKOUT_SESSION_ID}",
                                cancel=shop_url + "/checkout/cancelled")
            table = app.config["POSTAGE_REGIONS"]
            for _ in range(events):
                items = {isbn: rng.choice((1, 1, 2, 3)) for isbn in rng.sample(isbns, rng.choice((1, 1, 2, 3)))}
                basket = price_basket(items, find_region(table, rng.choice(("uk",) * 8 + ("europe", "world"))))
                order = place_order(basket, "KF")
                db.session.commit()
                session_ids.append(open_payment(order, urls, basket, 30).session_id)
                db.session.commit()
            db.engine.dispose()
        setup_orders = time.perf_counter() - started
        payloads = []
        for n, sid in enumerate(session_ids):
            answer = control.post(f"{sandbox.url}/_sandbox/sessions/{sid}/complete", timeout=30, json={
                "email": f"buyer{n}@example.org", "name": f"Buyer {n}",
                "address": {"line1": f"{n} Ward Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
            })
            answer.raise_for_status()
            [event_id] = answer.json()["event_ids"]
            payloads.append(control.get(f"{sandbox.url}/_sandbox/events/{event_id}", timeout=30).json()["payload"])
        deliveries = [
            Request("POST", "/stripe/webhook", body=payload,
                    headers={"Content-Type": "application/json; charset=utf-8",
                             "Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)})
            for payload in payloads
        ]
        outcomes: dict[str, int] = {}

        def seen(_request, status, body) -> None:
            try:
                outcome = json.loads(body).get("outcome", "") if status == 200 else f"HTTP {status}"
            except ValueError:
                outcome = f"HTTP {status}"
            key = "paid" if outcome.endswith(" paid") else outcome
            outcomes[key] = outcomes.get(key, 0) + 1

        result = load.run_python(shop_url, deliveries, None, concurrency, repeat=False, on_response=seen)
        with app.app_context():
            paid = db.session.scalar(select(func.count()).select_from(Order).where(
                Order.stripe_session_id.in_(session_ids), Order.status == "paid"))
            db.engine.dispose()
    finally:
        shop.stop()
        sandbox.stop()
    summary = {
        "events": len(deliveries), "concurrency": concurrency, "seconds": result.seconds,
        "events_per_s": result.requests / result.seconds if result.seconds else 0.0,
        "p50_ms": result.p50_ms, "p99_ms": result.p99_ms, "errors": result.errors,
        "outcomes": outcomes, "orders_paid": paid, "setup_seconds": setup_orders,
    }
    log(f"  webhooks: {summary['events']} events in {result.seconds:.2f} s = "
        f"{summary['events_per_s']:.0f} events/s (p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms); "
        f"{paid} orders paid; outcomes {outcomes}")
    return summary
