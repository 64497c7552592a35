"""Nothing half-done: failures, crashes and Stripe outages leave money and stock consistent."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from sandbox import sign_payload
from shop.catalogue.models import Publication
from shop.orders.models import Order, OrderEvent, StripeEvent
from tests.conftest import ISBN, STRIPE_KEY, WEBHOOK_SECRET, deliver_event, pay, start_checkout

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.waits  # on shop processes it starts, kills and restarts


def stock(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Publication.stock).filter_by(isbn=ISBN))


def paid_events(db) -> int:
    return db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.kind == "paid"))


def test_a_failure_inside_webhook_handling_rolls_it_all_back(client, shopper, sandbox, db, publication, monkeypatch):
    from shop.checkout import services

    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    real = services.fulfil_checkout

    def fulfil_then_fail(payment, actor="stripe"):
        real(payment, actor)  # the order row is claimed in this transaction...
        raise RuntimeError("disk full")  # ...and then something breaks

    monkeypatch.setattr(services, "fulfil_checkout", fulfil_then_fail)
    response = deliver_event(client, sandbox, event_id)
    assert response.status_code == 500
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "pending_payment"
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 0
    monkeypatch.setattr(services, "fulfil_checkout", real)
    assert deliver_event(client, sandbox, event_id).status_code == 200  # Stripe's retry
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "paid"
    assert paid_events(db) == 1 and stock(db) == 98


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_shop(app, port: int, pause_file: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": app.config["STRIPE_API_BASE"],
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.checkout.fault_server", "--port", str(port), "--pause-file", str(pause_file)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the shop process did not start")


def test_killing_the_server_mid_webhook_then_redelivering_pays_once(app, shopper, sandbox, db, publication, tmp_path):
    session_id = start_checkout(shopper, sandbox, quantity=2)
    [event_id] = pay(sandbox, session_id)
    payload = sandbox.event_payload(event_id)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)}
    pause = tmp_path / "pause"
    pause.touch()
    port = _free_port()
    shop = _start_shop(app, port, pause)
    try:
        outcome: list[object] = []

        def deliver():
            try:
                outcome.append(requests.post(f"http://127.0.0.1:{port}/stripe/webhook", data=payload, headers=headers, timeout=30))
            except requests.ConnectionError as error:  # what Stripe sees when we die
                outcome.append(error)

        delivery = threading.Thread(target=deliver, daemon=True)
        delivery.start()
        deadline = time.time() + 20
        while not pause.with_suffix(".reached").exists():
            assert time.time() < deadline, "the webhook never reached the claim"
            time.sleep(0.05)
        os.kill(shop.pid, signal.SIGKILL)  # mid-transaction: the claim is made, not committed
        shop.wait(timeout=10)
        delivery.join(timeout=10)
        assert isinstance(outcome[0], requests.ConnectionError)
    finally:
        if shop.poll() is None:
            shop.kill()
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "pending_payment"

    pause.unlink()
    shop = _start_shop(app, port, pause)
    try:
        for _ in range(2):  # Stripe redelivers; and once more for good measure
            response = requests.post(f"http://127.0.0.1:{port}/stripe/webhook", data=payload, headers=headers, timeout=30)
            assert response.status_code == 200
    finally:
        shop.kill()
        shop.wait(timeout=10)
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "paid"
    assert paid_events(db) == 1 and stock(db) == 98


def test_a_stripe_timeout_at_checkout_releases_the_reservation(app, shopper, sandbox, db, publication):
    app.config.update(STRIPE_TIMEOUT_SECONDS=1, STRIPE_MAX_RETRIES=1)
    app.extensions.pop("stripe_client", None)
    shopper.add(quantity=3)
    sandbox.post("/_sandbox/fail", count=5, status=200, delay=2.5)  # slower than our timeout
    started = time.monotonic()
    assert shopper.checkout().headers["Location"] == "/basket"
    assert time.monotonic() - started < 8  # bounded: timeout x (1 + retries) plus back-off
    assert "try again" in shopper.basket_page()
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "failed_to_start"
    assert stock(db) == 100
    assert shopper.basket() == {ISBN: 3}
    # The sandbox answers both timed-out attempts 2.5 s after each began: wait for that here, or
    # their entries land in the request log of whichever test runs next on this worker.
    deadline = time.monotonic() + 10
    while len(sandbox.requests_to("/v1/checkout/sessions")) < 2:
        assert time.monotonic() < deadline, "the sandbox never answered the timed-out attempts"
        time.sleep(0.05)


def test_a_stripe_500_is_retried_with_the_same_idempotency_key(app, shopper, sandbox, db, publication):
    app.config.update(STRIPE_MAX_RETRIES=2)
    app.extensions.pop("stripe_client", None)
    sandbox.post("/_sandbox/fail", count=1, status=500)
    session_id = start_checkout(shopper, sandbox, quantity=1)
    attempts = sandbox.requests_to("/v1/checkout/sessions")
    assert [a["status"] for a in attempts] == [500, 200]
    assert attempts[0]["idempotency_key"] == attempts[1]["idempotency_key"]
    db.session.expire_all()
    assert db.session.scalar(select(Order.stripe_session_id)) == session_id


def test_a_stripe_500_stored_for_the_key_is_not_retried_and_the_next_checkout_is_new(app, shopper, sandbox, db, publication):
    """Stripe failed while running the request and stored the 500 under its idempotency key: it
    says Stripe-Should-Retry: false, so the SDK does not retry (a retry would replay the 500).
    The buyer's next checkout is a new order with a new key, and goes through."""
    app.config.update(STRIPE_MAX_RETRIES=2)
    app.extensions.pop("stripe_client", None)
    sandbox.post("/_sandbox/fail", count=1, status=500, stage="during", path_prefix="/v1/checkout/sessions")
    shopper.add(quantity=2)
    assert shopper.checkout().headers["Location"] == "/basket"
    [attempt] = sandbox.requests_to("/v1/checkout/sessions")
    assert (attempt["status"], attempt["should_retry"]) == (500, "false")
    db.session.expire_all()
    assert db.session.scalar(select(Order.status)) == "failed_to_start" and stock(db) == 100
    assert shopper.basket() == {ISBN: 2}
    response = shopper.checkout()
    assert response.status_code == 303 and response.headers["Location"].startswith(sandbox.url + "/pay/")
    first, second = sandbox.requests_to("/v1/checkout/sessions")
    assert first["idempotency_key"] != second["idempotency_key"] and second["status"] == 200
