"""Tests of the Stripe sandbox itself, driven through the real stripe SDK over HTTP."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from sandbox import SandboxServer, sign_payload

pytestmark = pytest.mark.waits  # on its webhook deliveries and a `python -m sandbox` process

SECRET = "whsec_sandbox_test"
CARD_FIELDS = {"email": "ada@example.com", "name": "Ada Lovelace", "line1": "12 St James's Square",
               "line2": "", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB",
               "card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"}


class Receiver:
    """A tiny webhook endpoint: records (headers, body) and answers queued statuses (else 200)."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.put((dict(self.headers), body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stripe/webhook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def next_event(self, timeout: float = 3.0) -> stripe.Event:
        headers, body = self.received.get(timeout=timeout)
        return stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()


@pytest.fixture()
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never route loopback through a proxy from the environment
    return session


@pytest.fixture(autouse=True)
def clean(sandbox: SandboxServer, receiver: Receiver) -> None:
    sandbox.state.reset()
    sandbox.state.configure(webhook_url=None, webhook_secret=None, deliver_webhooks=True)
    while not receiver.received.empty():
        receiver.received.get_nowait()
    receiver.statuses.clear()


@pytest.fixture()
def client(sandbox: SandboxServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=0)


def session_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment", "success_url": "http://shop.test/done?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://shop.test/basket", "client_reference_id": "order-5",
        "metadata": {"order_id": "5"},
        "line_items": [
            {"price_data": {"currency": "gbp", "unit_amount": 850,
                            "product_data": {"name": "Annual report 2024", "metadata": {"report_id": "7"}}},
             "quantity": 2},
            {"price_data": {"currency": "gbp", "unit_amount": 1200, "product_data": {"name": "Survey"}},
             "quantity": 1},
        ],
        "shipping_options": [{"shipping_rate_data": {"type": "fixed_amount", "display_name": "Royal Mail",
                                                     "fixed_amount": {"amount": 395, "currency": "gbp"}}}],
        "shipping_address_collection": {"allowed_countries": ["GB", "IE"]},
        "payment_intent_data": {"metadata": {"order_id": "5"}},
    }
    params.update(overrides)
    return params


def eventually(probe: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll ``probe`` until it returns something truthy (background work settles)."""
    deadline = time.time() + timeout
    while not (result := probe()) and time.time() < deadline:
        time.sleep(0.02)
    return result


def paid_session(client: stripe.StripeClient, sandbox: SandboxServer, http: requests.Session) -> Any:
    session = client.v1.checkout.sessions.create(params=session_params())
    http.post(f"{sandbox.url}/_sandbox/sessions/{session.id}/complete", json={}).raise_for_status()
    return client.v1.checkout.sessions.retrieve(session.id)


def test_create_retrieve_line_items_and_expire(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k-create"})
    assert re.fullmatch(r"cs_test_[A-Za-z0-9]{58}", session.id)
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (2900, 3295, "gbp")
    assert session.shipping_cost.amount_total == 395 and session.shipping_cost.shipping_rate.startswith("shr_")
    assert session.total_details.amount_shipping == 395
    assert session.metadata["order_id"] == "5" and session.url.endswith(f"/pay/{session.id}")
    assert session.collected_information is None and session.payment_intent is None
    assert 86390 <= session.expires_at - session.created <= 86400
    fetched = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    assert fetched.line_items.data[0].description == "Annual report 2024"
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.quantity, i.amount_total) for i in items.data] == [(2, 1700), (1, 1200)]
    assert items.data[0].price_data.product_data.metadata["report_id"] == "7"
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError, match=r'status in \["open"\] can be expired'):
        client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    assert missing.value.param == "session"


def test_list_pagination_and_filters(client: stripe.StripeClient, sandbox: SandboxServer) -> None:
    ids = [client.v1.checkout.sessions.create(params=session_params()).id for _ in range(5)]
    page = client.v1.checkout.sessions.list(params={"limit": 2})
    assert [s.id for s in page.data] == ids[::-1][:2] and page.has_more
    assert [s.id for s in page.auto_paging_iter()] == ids[::-1]
    before = client.v1.checkout.sessions.list(params={"limit": 2, "ending_before": ids[1]})
    assert [s.id for s in before.data] == [ids[3], ids[2]] and before.has_more
    client.v1.checkout.sessions.expire(ids[0])
    assert [s.id for s in client.v1.checkout.sessions.list(params={"status": "expired"}).data] == [ids[0]]
    assert len(client.v1.checkout.sessions.list(params={"created": {"gte": int(time.time()) - 60}}).data) == 5
    assert client.v1.checkout.sessions.list(params={"created": {"lt": 1000}}).data == []
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: colour"):
        client.v1.checkout.sessions.list(params={"colour": "red"})  # type: ignore[typeddict-unknown-key]


def test_idempotency_replay_and_conflict(client: stripe.StripeClient, sandbox: SandboxServer) -> None:
    first = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "order-5"})
    again = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "order-5"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(sandbox.state.all("checkout.session")) == 1
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.checkout.sessions.create(params=session_params(client_reference_id="other"),
                                           options={"idempotency_key": "order-5"})
    other_key = stripe.StripeClient("sk_test_other", base_addresses={"api": sandbox.url})
    assert other_key.v1.checkout.sessions.create(params=session_params(),
                                                 options={"idempotency_key": "order-5"}).id != first.id


@pytest.mark.parametrize(("overrides", "param", "pattern"), [
    ({"payment_method_types": ["card"]}, "payment_method_types", "Received unknown parameter: payment_method_types"),
    ({"line_items": [{"price_data": {"currency": "gbp", "unit_amount": 5, "colour": "red",
                                     "product_data": {"name": "x"}}, "quantity": 1}]},
     "line_items[0][price_data][colour]", "unknown parameter"),
    ({"mode": "subscription"}, "mode", "only supports mode=payment"),
    ({"success_url": None}, "success_url", "Missing required param"),
    ({"line_items": []}, "line_items", "Missing required param"),
    ({"line_items": [{"price_data": {"currency": "gbp", "unit_amount": 0, "product_data": {"name": "x"}},
                      "quantity": 1}]}, "line_items[0][price_data][unit_amount]", "greater than or equal to 1"),
    ({"expires_at": int(time.time()) + 600}, "expires_at", "between 30 minutes and 24 hours"),
])
def test_invalid_create_params(client: stripe.StripeClient, overrides: dict[str, Any], param: str,
                               pattern: str) -> None:
    with pytest.raises(stripe.InvalidRequestError, match=pattern) as err:
        client.v1.checkout.sessions.create(params=session_params(**overrides))
    assert err.value.http_status == 400 and err.value.param == param


def test_only_test_keys_are_accepted(sandbox: SandboxServer) -> None:
    live = stripe.StripeClient("sk_live_abcdefgh12345678", base_addresses={"api": sandbox.url})
    with pytest.raises(stripe.AuthenticationError, match="only accepts test-mode"):
        live.v1.checkout.sessions.list()


def test_hosted_page_pays_with_good_card(client: stripe.StripeClient, sandbox: SandboxServer,
                                         http: requests.Session) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    page = http.get(session.url)
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert "£32.95" in page.text and '<option value="IE">Ireland</option>' in page.text
    assert '<label for="card_number">' in page.text and 'href="http://shop.test/basket"' in page.text
    done = http.post(session.url, data=CARD_FIELDS, allow_redirects=False)
    assert done.status_code == 303
    assert done.headers["Location"] == f"http://shop.test/done?session_id={session.id}"
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent.latest_charge"]})
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details.email == "ada@example.com" and paid.customer_details.tax_exempt == "none"
    shipping = paid.collected_information.shipping_details
    assert shipping.name == "Ada Lovelace" and shipping.address.postal_code == "SW1Y 4JH"
    assert shipping.address.line2 is None and paid.customer_details.address.country == "GB"
    pi = paid.payment_intent
    assert (pi.status, pi.amount, pi.amount_received, pi.metadata["order_id"]) == ("succeeded", 3295, 3295, "5")
    assert (pi.latest_charge.amount_captured, pi.latest_charge.refunded) == (3295, False)
    assert client.v1.payment_intents.retrieve(pi.id).latest_charge == pi.latest_charge.id
    assert client.v1.checkout.sessions.list(params={"payment_intent": pi.id}).data[0].id == session.id
    assert http.get(session.url).status_code == 410


@pytest.mark.parametrize(("changes", "status", "expected"), [
    ({"card_number": "4000 0000 0000 0002"}, 402, "Your card was declined."),
    ({"card_number": "1234 5678 9012 3456"}, 402, "Your card number is incorrect."),
    ({"email": "", "city": " ", "expiry": "13/30"}, 400, "Enter your email address."),
    ({"country": "FR"}, 400, "Select a country we deliver to."),
    ({"expiry": "01/20"}, 400, "expiry date is in the past"),
])
def test_hosted_page_rejections(client: stripe.StripeClient, http: requests.Session, changes: dict[str, str],
                                status: int, expected: str) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    page = http.post(session.url, data={**CARD_FIELDS, **changes}, allow_redirects=False)
    assert page.status_code == status and expected in page.text and 'role="alert"' in page.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert "4242" not in page.text.split("<form", 1)[1].replace("4242 4242 4242 4242 pays", "")


def test_a_session_over_stripes_largest_amount_is_refused(client: stripe.StripeClient,
                                                          sandbox: SandboxServer) -> None:
    """£999,999.99 is the most one payment in pounds may be: one penny more, with its postage,
    is refused, and nothing is made."""
    def at(unit_amount: int) -> dict[str, Any]:
        return session_params(line_items=[{"price_data": {"currency": "gbp", "unit_amount": unit_amount,
                                                          "product_data": {"name": "Report"}}, "quantity": 1}])
    assert client.v1.checkout.sessions.create(params=at(99_999_999 - 395)).amount_total == 99_999_999
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(params=at(99_999_999 - 394))
    assert refused.value.code == "amount_too_large"
    assert len(sandbox.state.all("checkout.session")) == 1


def test_refunds_partial_full_and_too_large(client: stripe.StripeClient, sandbox: SandboxServer,
                                            http: requests.Session) -> None:
    pi_id = paid_session(client, sandbox, http).payment_intent
    partial = client.v1.refunds.create(params={"payment_intent": pi_id, "amount": 1000, "reason": "requested_by_customer"})
    assert (partial.status, partial.amount, partial.object) == ("succeeded", 1000, "refund")
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.refunds.create(params={"payment_intent": pi_id, "amount": 5000})
    assert too_large.value.code == "amount_too_large" and too_large.value.param == "amount"
    assert "Refund amount (£50.00) is greater than unrefunded amount on charge (£22.95)" in str(too_large.value)
    rest = client.v1.refunds.create(params={"charge": partial.charge})
    assert rest.amount == 2295 and client.v1.refunds.retrieve(rest.id).id == rest.id
    charge = client.v1.charges.retrieve(partial.charge)
    assert (charge.amount_refunded, charge.refunded) == (3295, True)
    with pytest.raises(stripe.InvalidRequestError, match="already been refunded"):
        client.v1.refunds.create(params={"payment_intent": pi_id})
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.refunds.create(params={"payment_intent": "pi_missing"})
    assert unknown.value.http_status == 404 and unknown.value.code == "resource_missing"
    types = [e["type"] for e in http.get(f"{sandbox.url}/_sandbox/events").json()["data"]]
    assert types == ["checkout.session.completed", "charge.refunded", "refund.created",
                     "charge.refunded", "refund.created"]


def test_signed_webhooks_are_delivered_and_retried(client: stripe.StripeClient, sandbox: SandboxServer,
                                                   receiver: Receiver, http: requests.Session) -> None:
    http.post(f"{sandbox.url}/_sandbox/config", json={"webhook_url": receiver.url, "webhook_secret": SECRET})
    receiver.statuses.extend([500])  # first attempt fails, the retry succeeds
    session = client.v1.checkout.sessions.create(params=session_params())
    http.post(session.url, data=CARD_FIELDS, allow_redirects=False)
    first, second = receiver.next_event(), receiver.next_event()
    assert first.id == second.id and first.type == "checkout.session.completed"
    obj = first.data.object
    assert (obj.id, obj.payment_status, obj.metadata["order_id"]) == (session.id, "paid", "5")
    assert first.api_version == "2026-10-28.endive"
    def settled() -> dict[str, Any] | None:
        detail = http.get(f"{sandbox.url}/_sandbox/events/{first.id}").json()
        return detail if len(detail["delivery_attempts"]) == 2 else None

    detail = eventually(settled)
    assert [a["status"] for a in detail["delivery_attempts"]] == [500, 200]
    assert json.loads(detail["payload"])["id"] == first.id
    redelivered = http.post(f"{sandbox.url}/_sandbox/events/{first.id}/deliver", json={}).json()
    assert redelivered["status"] == 200 and receiver.next_event().id == first.id
    http.post(f"{sandbox.url}/_sandbox/config", json={"deliver_webhooks": False})
    client.v1.refunds.create(params={"payment_intent": obj.payment_intent})
    time.sleep(0.1)
    assert receiver.received.empty()


def test_sign_payload_matches_stripe_verification() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}})
    event = stripe.Webhook.construct_event(payload.encode(), sign_payload(payload, SECRET), SECRET)
    assert event.id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign_payload(payload, "whsec_other"), SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign_payload(payload, SECRET, int(time.time()) - 3600), SECRET)


def test_failure_injection(client: stripe.StripeClient, sandbox: SandboxServer, http: requests.Session) -> None:
    fail = f"{sandbox.url}/_sandbox/fail"
    http.post(fail, json={"count": 1, "status": 500}).raise_for_status()
    with pytest.raises(stripe.APIError):
        client.v1.checkout.sessions.list()
    http.post(fail, json={"count": 1, "status": 500, "path_prefix": "/v1/checkout"})
    retrying = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=1)
    created = retrying.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "retry-me"})
    log = http.get(f"{sandbox.url}/_sandbox/requests").json()["data"][-2:]
    assert [(r["status"], r["injected"], r["idempotency_key"]) for r in log] == [(500, True, "retry-me"),
                                                                                 (200, False, "retry-me")]
    assert log[-1]["stripe_version"] == "2026-10-28.endive"
    assert log[-1]["params"]["line_items"][0]["price_data"]["unit_amount"] == "850"
    http.post(fail, json={"count": 1, "status": 402, "error": {"message": "Nope", "code": "card_declined"}})
    with pytest.raises(stripe.CardError, match="Nope"):
        client.v1.checkout.sessions.retrieve(created.id)
    http.post(fail, json={"count": 1, "status": 429})
    with pytest.raises(stripe.RateLimitError):
        client.v1.checkout.sessions.retrieve(created.id)
    impatient = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url},
                                    http_client=stripe.RequestsClient(timeout=0.2))
    http.post(fail, json={"count": 1, "status": 200, "delay": 0.4})
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.checkout.sessions.retrieve(created.id)
    http.post(fail, json={"count": 0})
    assert client.v1.checkout.sessions.retrieve(created.id).id == created.id


def test_control_complete_async_override_and_expire(client: stripe.StripeClient, sandbox: SandboxServer,
                                                    http: requests.Session) -> None:
    control = f"{sandbox.url}/_sandbox/sessions"
    session = client.v1.checkout.sessions.create(params=session_params())
    declined = http.post(f"{control}/{session.id}/complete", json={"card": "4000000000000002"})
    assert declined.status_code == 402 and declined.json()["error"]["code"] == "card_declined"
    done = http.post(f"{control}/{session.id}/complete", json={"payment_method": "bacs_debit",
                                                               "amount_total": 100}).json()
    assert (done["session"]["status"], done["session"]["payment_status"]) == ("complete", "unpaid")
    assert done["session"]["amount_total"] == 100
    settled = http.post(f"{control}/{session.id}/async", json={"succeeded": True}).json()
    assert settled["session"]["payment_status"] == "paid"
    assert client.v1.payment_intents.retrieve(settled["session"]["payment_intent"]).amount_received == 100
    other = client.v1.checkout.sessions.create(params=session_params())
    expired = http.post(f"{control}/{other.id}/expire").json()
    assert expired["session"]["status"] == "expired"
    types = [e["type"] for e in http.get(f"{sandbox.url}/_sandbox/events").json()["data"]]
    assert types == ["checkout.session.completed", "checkout.session.async_payment_succeeded",
                     "checkout.session.expired"]


def test_sweeper_expires_overdue_sessions(http: requests.Session) -> None:
    with SandboxServer(sweep_interval=0.05) as sandbox:
        client = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url})
        session = client.v1.checkout.sessions.create(params=session_params())
        with sandbox.state.lock:
            sandbox.state.objects["checkout.session"][session.id]["expires_at"] = int(time.time()) - 1
        assert [e["type"] for e in eventually(sandbox.state.events)] == ["checkout.session.expired"]
        assert http.get(session.url).status_code == 410


def test_module_entry_point_runs_and_stops_on_sigterm() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", "--log-level", "WARNING"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        http = requests.Session()
        http.trust_env = False
        assert http.get(f"{url.group(0)}/_sandbox/config").json()["deliver_webhooks"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_an_answer_lost_after_the_work_keeps_the_work(client: stripe.StripeClient, sandbox: SandboxServer,
                                                     http: requests.Session) -> None:
    """stage=after: Stripe acted, the answer never came (a timeout, a proxy's 502); the same key
    then gets what was made, and the object exists."""
    http.post(f"{sandbox.url}/_sandbox/fail", json={"count": 1, "status": 502, "stage": "after",
                                                   "path_prefix": "/v1/checkout/sessions"}).raise_for_status()
    with pytest.raises(stripe.APIError):
        client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k-lost"})
    [made] = sandbox.state.all("checkout.session")
    again = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k-lost"})
    assert again.id == made["id"] and len(sandbox.state.all("checkout.session")) == 1
