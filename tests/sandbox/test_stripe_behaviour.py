"""The sandbox as strict as Stripe where the shop could go wrong: API versions, webhook
endpoints, bank debits that settle later, refunds that start pending, idempotency that replays
whatever happened (500s included), and Stripe's limits. Driven through the real SDK over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from sandbox import SandboxServer
from sandbox.versions import KNOWN, LATEST
from tests.sandbox.test_sandbox import SECRET, Receiver, eventually, session_params

LEGACY = "2024-06-20"
BACS_FIELDS = {"email": "ada@example.com", "name": "Ada Lovelace", "line1": "12 St James's Square", "line2": "",
               "city": "London", "postal_code": "SW1Y 4JH", "country": "GB", "payment_method": "bacs_debit",
               "sort_code": "10-88-00", "account_number": "00012345"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(sweep_interval=0.05) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()


@pytest.fixture(autouse=True)
def clean(sandbox: SandboxServer, receiver: Receiver) -> None:
    sandbox.state.reset()
    sandbox.state.configure(webhook_url=None, webhook_secret=None, deliver_webhooks=True, api_version=LATEST,
                            webhook_api_version=None, payment_methods=["card", "bacs_debit"],
                            pending_refunds=False, settle_after=None)
    sandbox.state.take_nonconforming()
    while not receiver.received.empty():
        receiver.received.get_nowait()


@pytest.fixture()
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.fixture()
def client(sandbox: SandboxServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=0)


def complete(http: requests.Session, sandbox: SandboxServer, session_id: str, **body: Any) -> dict:
    answer = http.post(f"{sandbox.url}/_sandbox/sessions/{session_id}/complete", json=body)
    answer.raise_for_status()
    return answer.json()


def events(http: requests.Session, sandbox: SandboxServer) -> list[dict]:
    return http.get(f"{sandbox.url}/_sandbox/events").json()["data"]


def last_request(http: requests.Session, sandbox: SandboxServer) -> dict:
    return http.get(f"{sandbox.url}/_sandbox/requests").json()["data"][-1]


# -- API versions ----------------------------------------------------------------------------

def test_the_latest_version_is_the_pinned_sdks() -> None:
    assert stripe.api_version == LATEST and LEGACY in KNOWN and "2025-03-31.basil" in KNOWN


def test_events_are_rendered_in_each_endpoints_version(client: stripe.StripeClient, sandbox: SandboxServer,
                                                       http: requests.Session) -> None:
    sandbox.state.configure(api_version=LEGACY)
    session = client.v1.checkout.sessions.create(params=session_params())
    [event_id] = complete(http, sandbox, session.id)["event_ids"]
    detail = http.get(f"{sandbox.url}/_sandbox/events/{event_id}").json()
    legacy = json.loads(detail["payload"])
    assert legacy["api_version"] == LEGACY  # created in the account's default version
    obj = legacy["data"]["object"]
    assert "collected_information" not in obj and obj["shipping_details"]["address"]["postal_code"] == "SW1A 1AA"
    latest = json.loads(http.get(f"{sandbox.url}/_sandbox/events/{event_id}?api_version={LATEST}").json()["payload"])
    assert latest["api_version"] == LATEST and "shipping_details" not in latest["data"]["object"]
    assert latest["data"]["object"]["collected_information"]["shipping_details"]["name"] == "Sandbox Customer"
    acacia = json.loads(http.get(f"{sandbox.url}/_sandbox/events/{event_id}?api_version=2025-02-24.acacia")
                        .json()["payload"])["data"]["object"]
    assert acacia["shipping_details"] == acacia["collected_information"]["shipping_details"]
    assert client.v1.events.retrieve(event_id).api_version == LEGACY  # as created, whoever asks
    assert http.get(f"{sandbox.url}/_sandbox/events/{event_id}?api_version=1999-01-01").status_code == 400


def test_answers_are_rendered_in_the_requests_version(client: stripe.StripeClient, sandbox: SandboxServer,
                                                      http: requests.Session) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    complete(http, sandbox, session.id)
    old = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, stripe_version=LEGACY)
    assert old.v1.checkout.sessions.retrieve(session.id).to_dict()["shipping_details"]["name"] == "Sandbox Customer"
    fresh = client.v1.checkout.sessions.retrieve(session.id).to_dict()
    assert "shipping_details" not in fresh and fresh["collected_information"]["shipping_details"]
    bogus = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, stripe_version="2099-01-01")
    with pytest.raises(stripe.InvalidRequestError, match="Invalid Stripe API version: 2099-01-01"):
        bogus.v1.checkout.sessions.retrieve(session.id)


# -- webhook endpoints ------------------------------------------------------------------------

def test_webhook_endpoints_create_list_update_delete(client: stripe.StripeClient) -> None:
    made = client.v1.webhook_endpoints.create(params={
        "url": "https://shop.example.org/stripe/webhook", "api_version": LEGACY,
        "enabled_events": ["checkout.session.completed"], "description": "shop"})
    assert made.secret.startswith("whsec_") and made.status == "enabled" and made.api_version == LEGACY
    [listed] = client.v1.webhook_endpoints.list().data
    assert listed.id == made.id and "secret" not in listed.to_dict()  # only at creation
    assert "secret" not in client.v1.webhook_endpoints.retrieve(made.id).to_dict()
    updated = client.v1.webhook_endpoints.update(made.id, params={"enabled_events": ["*"], "disabled": True})
    assert (updated.enabled_events, updated.status, updated.api_version) == (["*"], "disabled", LEGACY)
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: api_version"):
        client.v1.webhook_endpoints.update(made.id, params={"api_version": LATEST})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(stripe.InvalidRequestError, match="Invalid enabled_events\\[0\\]: must be one of"):
        client.v1.webhook_endpoints.create(params={"url": "https://x.example", "enabled_events": ["nonsense"]})  # type: ignore[list-item]
    assert client.v1.webhook_endpoints.delete(made.id).deleted is True
    assert client.v1.webhook_endpoints.list().data == []


def test_endpoints_receive_their_events_in_their_version_signed_with_their_secret(
        client: stripe.StripeClient, sandbox: SandboxServer, receiver: Receiver, http: requests.Session) -> None:
    legacy = client.v1.webhook_endpoints.create(params={
        "url": receiver.url, "api_version": LEGACY, "enabled_events": ["checkout.session.completed"]})
    session = client.v1.checkout.sessions.create(params=session_params())
    complete(http, sandbox, session.id)
    headers, body = receiver.received.get(timeout=3)
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], legacy.secret)
    assert event.api_version == LEGACY and "shipping_details" in json.loads(body)["data"]["object"]
    client.v1.refunds.create(params={"payment_intent": client.v1.checkout.sessions.retrieve(session.id).payment_intent})
    time.sleep(0.2)
    assert receiver.received.empty()  # charge.refunded and refund.created: not subscribed
    client.v1.webhook_endpoints.update(legacy.id, params={"disabled": True})
    complete(http, sandbox, client.v1.checkout.sessions.create(params=session_params()).id)
    time.sleep(0.2)
    assert receiver.received.empty()  # a disabled endpoint gets nothing


def test_the_forwarding_target_renders_like_stripe_listen(client: stripe.StripeClient, sandbox: SandboxServer,
                                                          receiver: Receiver, http: requests.Session) -> None:
    sandbox.state.configure(api_version=LEGACY, webhook_url=receiver.url, webhook_secret=SECRET)
    session = client.v1.checkout.sessions.create(params=session_params())
    complete(http, sandbox, session.id)
    assert receiver.next_event().api_version == LEGACY  # `stripe listen`: the account's version
    sandbox.state.configure(webhook_api_version=LATEST)
    complete(http, sandbox, client.v1.checkout.sessions.create(params=session_params()).id)
    assert receiver.next_event().api_version == LATEST  # `stripe listen --latest`


# -- bank debits ------------------------------------------------------------------------------

def test_bacs_on_the_hosted_page_stays_processing_then_settles(client: stripe.StripeClient, sandbox: SandboxServer,
                                                               http: requests.Session) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.payment_method_types == ["card", "bacs_debit"]
    page = http.get(session.url).text
    assert "Bacs Direct Debit" in page and '<label for="sort_code">' in page and 'name="payment_method"' in page
    wrong = http.post(session.url, data={**BACS_FIELDS, "account_number": "12345678"}, allow_redirects=False)
    assert wrong.status_code == 400 and "Your account number is incorrect." in wrong.text
    assert "12345678" not in wrong.text.split("<form", 1)[1]  # bank details are never written back
    done = http.post(session.url, data=BACS_FIELDS, allow_redirects=False)
    assert done.status_code == 303
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent.latest_charge"]})
    assert (paid.status, paid.payment_status) == ("complete", "unpaid")
    intent = paid.payment_intent
    assert (intent.status, intent.payment_method_types, intent.latest_charge.status) == (
        "processing", ["bacs_debit"], "pending")
    assert intent.latest_charge.payment_method_details.bacs_debit.sort_code == "108800"
    with pytest.raises(stripe.InvalidRequestError, match="does not have a successful charge"):
        client.v1.refunds.create(params={"payment_intent": intent.id})
    settled = http.post(f"{sandbox.url}/_sandbox/sessions/{session.id}/async", json={}).json()
    assert settled["session"]["payment_status"] == "paid"
    assert [e["type"] for e in events(http, sandbox)] == ["checkout.session.completed",
                                                          "checkout.session.async_payment_succeeded"]


def test_a_failing_account_fails_and_the_sweeper_settles_by_itself(client: stripe.StripeClient,
                                                                    sandbox: SandboxServer,
                                                                    http: requests.Session) -> None:
    sandbox.state.configure(settle_after=0.1)
    session = client.v1.checkout.sessions.create(params=session_params())
    complete(http, sandbox, session.id, payment_method="bacs_debit", account_number="22222227")
    types = eventually(lambda: [e["type"] for e in events(http, sandbox)][1:])
    assert types == ["checkout.session.async_payment_failed"]
    retrieved = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert (retrieved.status, retrieved.payment_status) == ("complete", "unpaid")
    assert retrieved.payment_intent.status == "requires_payment_method"
    assert retrieved.payment_intent.last_payment_error.code == "insufficient_funds"


def test_payment_methods_follow_the_dashboard_the_currency_and_the_filter(client: stripe.StripeClient,
                                                                          sandbox: SandboxServer,
                                                                          http: requests.Session) -> None:
    only_cards = client.v1.checkout.sessions.create(params=session_params(allowed_payment_method_types=["card"]))
    assert only_cards.payment_method_types == ["card"] and only_cards.allowed_payment_method_types == ["card"]
    assert "Bacs" not in http.get(only_cards.url).text
    euros = session_params()
    for line in euros["line_items"]:
        line["price_data"]["currency"] = "eur"
    euros["shipping_options"][0]["shipping_rate_data"]["fixed_amount"]["currency"] = "eur"
    assert client.v1.checkout.sessions.create(params=euros).payment_method_types == ["card"]  # Bacs is GBP only
    sandbox.state.configure(payment_methods=["card"])
    with pytest.raises(stripe.InvalidRequestError, match="No valid payment method types") as none:
        client.v1.checkout.sessions.create(params=session_params(allowed_payment_method_types=["bacs_debit"]))
    assert none.value.param == "allowed_payment_method_types"
    with pytest.raises(stripe.InvalidRequestError, match="Invalid allowed_payment_method_types\\[0\\]"):
        client.v1.checkout.sessions.create(params=session_params(allowed_payment_method_types=["cheque"]))


def test_a_zero_total_completes_with_nothing_to_pay(client: stripe.StripeClient, sandbox: SandboxServer,
                                                    http: requests.Session) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    done = complete(http, sandbox, session.id, amount_total=0)["session"]
    assert (done["payment_status"], done["payment_intent"]) == ("no_payment_required", None)


# -- refunds ------------------------------------------------------------------------------------

def paid_intent(client: stripe.StripeClient, sandbox: SandboxServer, http: requests.Session) -> str:
    session = client.v1.checkout.sessions.create(params=session_params())
    return complete(http, sandbox, session.id)["session"]["payment_intent"]


def test_refunds_start_pending_and_succeed_fail_or_are_cancelled(client: stripe.StripeClient,
                                                                 sandbox: SandboxServer,
                                                                 http: requests.Session) -> None:
    intent = paid_intent(client, sandbox, http)
    sandbox.state.configure(pending_refunds=True)
    first = client.v1.refunds.create(params={"payment_intent": intent, "amount": 1000})
    assert first.status == "pending"
    assert client.v1.charges.retrieve(first.charge).amount_refunded == 1000  # pending counts against it
    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded amount"):
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 2296})
    moved = http.post(f"{sandbox.url}/_sandbox/refunds/{first.id}", json={"status": "failed"}).json()
    assert moved["refund"]["status"] == "failed" and moved["refund"]["failure_reason"] == "declined"
    by_id = {e["id"]: e for e in events(http, sandbox)}
    assert [by_id[i]["type"] for i in moved["event_ids"]] == ["refund.updated", "charge.refund.updated", "refund.failed"]
    assert by_id[moved["event_ids"][0]]["data"]["previous_attributes"] == {"status": "pending"}
    assert client.v1.charges.retrieve(first.charge).amount_refunded == 0  # refundable again
    second = client.v1.refunds.create(params={"payment_intent": intent, "amount": 500})
    http.post(f"{sandbox.url}/_sandbox/refunds/{second.id}", json={"status": "succeeded"}).raise_for_status()
    assert client.v1.refunds.retrieve(second.id).status == "succeeded"
    again = http.post(f"{sandbox.url}/_sandbox/refunds/{second.id}", json={"status": "canceled"})
    assert again.status_code == 400  # a refund that succeeded can fail, not be cancelled
    late = http.post(f"{sandbox.url}/_sandbox/refunds/{second.id}", json={"status": "failed"})
    assert late.json()["refund"]["status"] == "failed"
    third = client.v1.refunds.create(params={"payment_intent": intent, "amount": 100})
    http.post(f"{sandbox.url}/_sandbox/refunds/{third.id}", json={"status": "canceled"}).raise_for_status()
    assert client.v1.charges.retrieve(first.charge).amount_refunded == 0


def test_pending_refunds_settle_by_themselves(client: stripe.StripeClient, sandbox: SandboxServer,
                                             http: requests.Session) -> None:
    intent = paid_intent(client, sandbox, http)
    sandbox.state.configure(pending_refunds=True, settle_after=0.1)
    refund = client.v1.refunds.create(params={"payment_intent": intent, "amount": 100})
    assert eventually(lambda: client.v1.refunds.retrieve(refund.id).status == "succeeded")


# -- idempotency --------------------------------------------------------------------------------

def test_a_500_during_a_request_is_replayed_for_its_key_and_not_retried(sandbox: SandboxServer,
                                                                         http: requests.Session) -> None:
    http.post(f"{sandbox.url}/_sandbox/fail", json={"count": 1, "status": 500, "stage": "during",
                                                   "path_prefix": "/v1/checkout/sessions"}).raise_for_status()
    retrying = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=2)
    with pytest.raises(stripe.APIError):
        retrying.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k-500"})
    log = http.get(f"{sandbox.url}/_sandbox/requests").json()["data"]
    assert [(r["status"], r["should_retry"]) for r in log] == [(500, "false")]  # the SDK did not retry
    with pytest.raises(stripe.APIError):  # the same key, later: the same 500, replayed
        retrying.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k-500"})
    assert last_request(http, sandbox)["replayed"] is True
    assert sandbox.state.all("checkout.session") == []  # nothing was made
    fresh = retrying.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k-new"})
    assert fresh.status == "open"


def test_idempotency_keys_are_at_most_255_characters_and_forgotten_after_24_hours(
        sandbox: SandboxServer, http: requests.Session) -> None:
    client = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError, match="at most 255 characters"):
        client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k" * 256})
    first = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k" * 255})
    assert client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k" * 255}).id == first.id
    with sandbox.state.lock:
        for record in sandbox.state.idempotency.values():
            record["at"] -= 24 * 3600 + 1
    later = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k" * 255})
    assert later.id != first.id  # a new request, a day later


def test_a_refusal_while_running_is_replayed_but_a_parameter_error_is_not_stored(
        client: stripe.StripeClient, sandbox: SandboxServer, http: requests.Session) -> None:
    intent = paid_intent(client, sandbox, http)
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded"):
            client.v1.refunds.create(params={"payment_intent": intent, "amount": 999999},
                                     options={"idempotency_key": "too-much"})
    assert last_request(http, sandbox)["replayed"] is True
    with pytest.raises(stripe.InvalidRequestError, match="between 30 minutes and 24 hours"):
        client.v1.checkout.sessions.create(params=session_params(expires_at=int(time.time()) + 60),
                                           options={"idempotency_key": "fix-me"})
    fixed = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "fix-me"})
    assert fixed.status == "open" and last_request(http, sandbox)["replayed"] is False


def test_a_key_still_in_use_is_a_409_the_sdk_should_retry(sandbox: SandboxServer, http: requests.Session) -> None:
    import threading

    http.post(f"{sandbox.url}/_sandbox/fail", json={"count": 1, "status": 200, "delay": 0.6, "stage": "during",
                                                   "path_prefix": "/v1/checkout/sessions"})
    slow = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=0)
    first: list[Any] = []
    thread = threading.Thread(target=lambda: first.append(
        slow.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "busy"})))
    thread.start()
    time.sleep(0.3)  # the first is running (slowly)
    with pytest.raises(stripe.APIError) as busy:  # how the SDK raises a 409
        slow.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "busy"})
    assert busy.value.http_status == 409 and busy.value.json_body["error"]["code"] == "idempotency_key_in_use"
    assert last_request(http, sandbox)["should_retry"] == "true"
    thread.join(5)
    assert first and first[0].status == "open"
    again = slow.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "busy"})
    assert again.id == first[0].id  # once it finished, the key replays its answer


# -- limits --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "param", "pattern"), [
    ({"line_items": [{"price_data": {"currency": "gbp", "unit_amount": 100, "product_data": {"name": f"T{n}"}},
                      "quantity": 1} for n in range(101)]}, "line_items", "at most 100 line items"),
    ({"shipping_options": [{"shipping_rate_data": {"type": "fixed_amount", "display_name": f"Rate {n}",
                                                   "fixed_amount": {"amount": 100, "currency": "gbp"}}}
                           for n in range(6)]}, "shipping_options", "at most 5 shipping options"),
    ({"client_reference_id": "x" * 201}, "client_reference_id", "at most 200 characters"),
    ({"shipping_options": [{"shipping_rate_data": {"type": "fixed_amount", "display_name": "R" * 101,
                                                   "fixed_amount": {"amount": 100, "currency": "gbp"}}}]},
     "shipping_options[0][shipping_rate_data][display_name]", "at most 100 characters"),
    ({"metadata": {f"k{n}": "v" for n in range(51)}}, "metadata", "at most 50 keys"),
    ({"metadata": {"k" * 41: "v"}}, "metadata[" + "k" * 41 + "]", "at most 40 characters"),
    ({"metadata": {"k": "v" * 501}}, "metadata[k]", "at most 500 characters"),
    ({"shipping_address_collection": {"allowed_countries": ["GB", "UK"]}},
     "shipping_address_collection[allowed_countries][1]", "must be one of AC, AD"),
    ({"billing_address_collection": "sometimes"}, "billing_address_collection", "must be one of auto, required"),
])
def test_stripes_limits(client: stripe.StripeClient, overrides: dict[str, Any], param: str, pattern: str) -> None:
    with pytest.raises(stripe.InvalidRequestError, match=pattern) as refused:
        client.v1.checkout.sessions.create(params=session_params(**overrides))
    assert refused.value.http_status == 400 and refused.value.param == param


def test_100_line_items_and_5_shipping_options_are_fine(client: stripe.StripeClient) -> None:
    lines = [{"price_data": {"currency": "gbp", "unit_amount": 100, "product_data": {"name": f"T{n}"}},
              "quantity": 1} for n in range(100)]
    rates = [{"shipping_rate_data": {"type": "fixed_amount", "display_name": f"Rate {n}",
                                     "fixed_amount": {"amount": 100, "currency": "gbp"}}} for n in range(5)]
    session = client.v1.checkout.sessions.create(params=session_params(line_items=lines, shipping_options=rates))
    assert session.amount_subtotal == 10000 and len(session.shipping_options) == 5
