"""The conformance checker: requests held to the pinned stripe-python's parameter types. It must
accept what the shop really sends, and fail on a deliberately wrong parameter, whichever way it
is wrong; and the suite's guard (tests/conftest.py) must fail a test that sent one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import stripe
from stripe._encode import _api_encode
from stripe.params import RefundCreateParams, WebhookEndpointCreateParams
from stripe.params.checkout import SessionCreateParams, SessionListParams

from sandbox import SandboxServer
from sandbox.app import create_sandbox_app
from sandbox.conformance import OPERATIONS, check, check_request, operation
from sandbox.params import parse_params
from sandbox.state import SandboxState
from shop.payments.gateway import CheckoutLine, CheckoutRequest, CheckoutUrls, session_params
from tests.conftest import assert_requests_conform


def wire(params: dict) -> dict:
    """``params`` as Stripe receives them: encoded by the SDK, form-decoded, nested again."""
    pairs = [(key, str(value).lower() if isinstance(value, bool) else str(value)) for key, value in _api_encode(params)]
    return parse_params(pairs)


def shop_session(**changes) -> dict:
    request = CheckoutRequest(
        order_id=7, reference="KF-2026-000007", currency="gbp",
        lines=(CheckoutLine("Leadership and engagement: Together we can", "9781857176407", 850, 2),),
        shipping_label="Post to Europe", shipping_amount=1050, allowed_countries=("IE", "FR", "DE"),
        idempotency_key="checkout-KF-2026-000007-1", expires_in_minutes=30,
        urls=CheckoutUrls("https://shop.example.org/checkout/success?session_id={CHECKOUT_SESSION_ID}",
                          "https://shop.example.org/checkout/cancelled?order=x"),
        payment_methods=("card", "bacs_debit"),
    )
    params = dict(session_params(request))
    params.update(changes)
    return params


def messages(problems) -> list[str]:
    return [problem.message for problem in problems]


def test_what_the_shop_sends_conforms() -> None:
    assert check(wire(shop_session()), SessionCreateParams) == []
    assert check(wire({"payment_intent": "pi_1", "amount": 500,
                       "metadata": {"refunded_by": "desk@example.org", "order_reference": "KF-1"}}),
                 RefundCreateParams) == []
    since = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert check(wire({"created": {"gte": since}, "status": "complete", "limit": 100,
                       "expand": ["data.payment_intent"]}), SessionListParams) == []


@pytest.mark.parametrize(("changes", "expected"), [
    ({"colour": "red"}, "Received unknown parameter: colour"),
    ({"payment_method_types": ["card"]}, "Received unknown parameter: payment_method_types"),  # not in 16.1.0
    ({"payment_intent_data": {"metadata": {}, "receipt": "x"}}, "Received unknown parameter: payment_intent_data[receipt]"),
    ({"expires_at": "soon"}, "Invalid integer: soon"),
    ({"phone_number_collection": {"enabled": "yes"}}, "Invalid boolean: yes"),
    ({"billing_address_collection": "sometimes"}, "Invalid billing_address_collection: must be one of auto, required"),
    ({"shipping_address_collection": {"allowed_countries": ["GB", "UK"]}},
     "Invalid shipping_address_collection[allowed_countries][1]: must be one of AC, AD,"),
    ({"allowed_payment_method_types": ["card", "cheque"]}, "Invalid allowed_payment_method_types[1]: must be one of"),
    ({"line_items": "two copies"}, "Invalid array: line_items"),
    ({"line_items": [{"quantity": 1, "price_data": {"currency": "gbp", "unit_amount": 1, "product_data": "x"}}]},
     "Invalid object: line_items[0][price_data][product_data]"),
])
def test_a_deliberately_wrong_parameter_is_caught(changes: dict, expected: str) -> None:
    problems = messages(check(wire(shop_session(**changes)), SessionCreateParams))
    assert problems and problems[0].startswith(expected), problems


def test_missing_required_parameters_and_open_enums() -> None:
    assert messages(check({"enabled_events": ["checkout.session.completed"]}, WebhookEndpointCreateParams)) == [
        "Missing required param: url."]
    # The SDK types allow any string beside an enum (Literal[...] | str); the API does not.
    [problem] = check({"url": "https://x.example", "enabled_events": ["*"], "api_version": "2099-01-01"},
                      WebhookEndpointCreateParams)
    assert problem.param == "api_version" and "must be one of 2011-01-01" in problem.message
    # "" is Stripe's "unset this", and allowed where the SDK says so.
    assert check({"metadata": ""}, RefundCreateParams) == []
    assert messages(check({"amount": ""}, RefundCreateParams)) == ["Invalid integer: "]


def test_every_v1_route_of_the_sandbox_has_a_parameter_type() -> None:
    """A route the sandbox answers but the checker cannot type would let requests escape."""
    app = create_sandbox_app(SandboxState())
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        alternatives = re.search(r"<any\(([^)]*)\):\w+>", rule.rule)
        paths = ([re.sub(r"<any\([^)]*\):\w+>", name.strip(), rule.rule) for name in alternatives.group(1).split(",")]
                 if alternatives else [rule.rule])
        for path in paths:
            path = re.sub(r"<\w+>", "x_123", path)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert operation(method, path) is not None, (method, path)
                checked += 1
    assert checked == len(OPERATIONS)


def test_an_unknown_operation_is_a_problem() -> None:
    [problem] = check_request("POST", "/v1/subscriptions", {})
    assert "No stripe-python parameter type" in problem.message


def test_expanding_more_than_four_levels_is_a_problem() -> None:
    """Stripe's limit, which an invoice's payment reaches already."""
    assert check_request("GET", "/v1/invoices/in_1", {"expand": ["payments.data.payment.payment_intent"]}) == []
    [problem] = check_request("GET", "/v1/invoices/in_1",
                              {"expand": ["payments.data.payment.payment_intent.latest_charge"]})
    assert "more than 4 levels" in problem.message and problem.param == "expand"


@pytest.fixture()
def other_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def test_the_suites_guard_fails_on_a_deliberately_wrong_parameter(other_sandbox: SandboxServer) -> None:
    """What the autouse guard in tests/conftest.py does after every test, on a sandbox of its
    own: a request Stripe would refuse fails it, even when the caller expected the refusal."""
    client = stripe.StripeClient("sk_test_guard", base_addresses={"api": other_sandbox.url}, max_network_retries=0)
    session = client.v1.checkout.sessions.create(params=shop_session())  # conforms
    client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert_requests_conform(other_sandbox)  # nothing to report
    with pytest.raises(stripe.InvalidRequestError, match="must be one of auto, required"):
        client.v1.checkout.sessions.create(params=shop_session(billing_address_collection="sometimes"))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=r"POST /v1/checkout/sessions: Invalid billing_address_collection"):
        assert_requests_conform(other_sandbox)
    assert_requests_conform(other_sandbox)  # each request is reported once


def test_a_request_refused_for_another_reason_is_still_reported(other_sandbox: SandboxServer) -> None:
    """An injected outage answers before any check; the request is still held to Stripe's types."""
    import requests

    requests.post(f"{other_sandbox.url}/_sandbox/fail", json={"count": 1, "status": 500}, timeout=5)
    client = stripe.StripeClient("sk_test_guard", base_addresses={"api": other_sandbox.url}, max_network_retries=0)
    with pytest.raises(stripe.APIError):
        client.v1.refunds.create(params={"payment_intent": "pi_1", "amount": "lots"})  # type: ignore[typeddict-item]
    with pytest.raises(AssertionError, match="Invalid integer: lots"):
        assert_requests_conform(other_sandbox)
