"""`flask stripe webhook-setup URL`, and the one list of handled events it subscribes to, which
the README's production section and its Stripe CLI recipe are held to."""

import re
import time
from pathlib import Path

import stripe
from sqlalchemy import select

from shop.checkout.services import HANDLED_EVENTS
from shop.orders.models import Order
from shop.payments.gateway import API_VERSION
from tests.conftest import STRIPE_KEY

URL = "https://shop.example.org/stripe/webhook"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
EVENT = re.compile(r"`((?:checkout\.session|charge|refund|payment_intent|invoice)(?:\.[a-z_]+)+)`")


def endpoints(sandbox) -> list:
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sandbox.url})
    return list(client.v1.webhook_endpoints.list().auto_paging_iter())


def setup(runner, url: str = URL):
    result = runner.invoke(args=["stripe", "webhook-setup", url])
    assert result.exit_code == 0, result.output
    return result


def test_creates_the_endpoint_and_prints_its_secret_once(runner, sandbox, db):
    first = setup(runner)
    [endpoint] = endpoints(sandbox)
    assert endpoint.url == URL and endpoint.api_version == API_VERSION and endpoint.status == "enabled"
    assert sorted(endpoint.enabled_events) == sorted(HANDLED_EVENTS)
    [secret] = re.findall(r"^whsec_\w+$", first.output, re.MULTILINE)
    assert f"Created webhook endpoint {endpoint.id}" in first.output
    assert "set it as STRIPE_WEBHOOK_SECRET" in first.output
    second = setup(runner)  # idempotent: nothing new, and no secret (Stripe shows it once)
    assert f"Webhook endpoint {endpoint.id} for {URL} is already set up" in second.output
    assert "whsec_" not in second.output and secret not in second.output
    assert [e.id for e in endpoints(sandbox)] == [endpoint.id]
    [create] = sandbox.requests_to("/v1/webhook_endpoints")
    assert create["params"]["api_version"] == API_VERSION


def test_finds_and_updates_an_endpoint_with_the_wrong_events(runner, sandbox, db):
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sandbox.url})
    made = client.v1.webhook_endpoints.create(params={
        "url": URL, "api_version": API_VERSION, "enabled_events": ["checkout.session.completed", "customer.created"]})
    client.v1.webhook_endpoints.update(made.id, params={"disabled": True})  # as Stripe does after failures
    result = setup(runner)
    assert f"Updated webhook endpoint {made.id}" in result.output and "whsec_" not in result.output
    [endpoint] = endpoints(sandbox)
    assert sorted(endpoint.enabled_events) == sorted(HANDLED_EVENTS) and endpoint.status == "enabled"


def test_an_endpoint_in_another_api_version_is_left_and_reported(runner, sandbox, db):
    """Stripe cannot change an endpoint's version: a new one is made beside the old."""
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sandbox.url})
    old = client.v1.webhook_endpoints.create(params={
        "url": URL, "api_version": "2024-06-20", "enabled_events": list(HANDLED_EVENTS)})
    result = setup(runner)
    assert "whsec_" in result.output
    assert f"endpoint {old.id} at the same URL sends events in API version 2024-06-20" in result.output
    versions = sorted((e.api_version for e in endpoints(sandbox)), key=str)
    assert versions == ["2024-06-20", API_VERSION]
    assert "sends events in API version 2024-06-20" in setup(runner).output  # still reported


def test_the_new_endpoint_receives_exactly_the_handled_events(runner, sandbox, db, client, shopper, publication, live_server):
    """Through the sandbox's delivery, as Stripe would: a session event and a refund event
    reach the shop, signed with the endpoint's own secret; an event the shop does not handle
    (refund.created) is not sent."""
    from tests.conftest import pay, start_checkout

    output = setup(runner, live_server + "/stripe/webhook").output
    [secret] = re.findall(r"^whsec_\w+$", output, re.MULTILINE)
    client.application.config["STRIPE_WEBHOOK_SECRET"] = secret
    sandbox.post("/_sandbox/config", deliver_webhooks=True)
    def attempts(type_: str) -> list[dict]:
        deadline = time.time() + 10
        while time.time() < deadline:
            found = [a for e in sandbox.events(type_) for a in e["delivery_attempts"]]
            if found:
                return found
            time.sleep(0.05)
        return []

    session_id = start_checkout(shopper, sandbox)
    pay(sandbox, session_id)
    assert attempts("checkout.session.completed")  # paid before it is refunded
    intent = sandbox.events("checkout.session.completed")[0]["data"]["object"]["payment_intent"]
    stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sandbox.url}).v1.refunds.create(
        params={"payment_intent": intent, "amount": 100})
    for type_ in ("checkout.session.completed", "charge.refunded"):
        [attempt] = attempts(type_)
        assert attempt["status"] == 200 and attempt["endpoint"].startswith("we_"), attempt
        assert attempt["api_version"] == API_VERSION
    [created] = sandbox.events("refund.created")  # emitted with charge.refunded: not sent
    assert created["delivery_attempts"] == [] and created["pending_webhooks"] == 0
    db.session.expire_all()
    order = db.session.scalar(select(Order))
    assert order.status == "paid" and order.refunded_pence == 100


def test_a_bad_url_is_refused_with_a_message(runner, sandbox, db):
    result = runner.invoke(args=["stripe", "webhook-setup", "shop.example.org/stripe/webhook"])
    assert result.exit_code != 0 and "is not a URL" in result.output
    assert endpoints(sandbox) == []


def test_stripe_refusing_is_reported(runner, sandbox, db):
    sandbox.post("/_sandbox/fail", count=1, status=401)
    result = runner.invoke(args=["stripe", "webhook-setup", URL])
    assert result.exit_code != 0 and "authentication" in result.output.lower()


def test_the_handled_events_are_all_events_stripe_knows():
    from stripe.params import WebhookEndpointCreateParams

    from sandbox.conformance import check

    assert check({"url": URL, "enabled_events": list(HANDLED_EVENTS)}, WebhookEndpointCreateParams) == []
    assert len(set(HANDLED_EVENTS)) == len(HANDLED_EVENTS) == 13


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_the_readme_production_section_lists_exactly_the_handled_events():
    section = _section("Stripe webhooks in production")
    assert set(EVENT.findall(section)) == set(HANDLED_EVENTS)
    assert "flask --app wsgi stripe webhook-setup https://" in section


def test_the_stripe_cli_recipe_forwards_exactly_the_handled_events_in_the_latest_version():
    section = _section("Stripe test mode with the Stripe CLI")
    [listen] = [line for line in section.splitlines() if line.strip().startswith("stripe listen")]
    assert "--latest" in listen.split()  # events in the latest API version, which the SDK speaks
    events = re.search(r"--events\s+(\S+)", listen)
    assert events and set(events.group(1).split(",")) == set(HANDLED_EVENTS)
    assert "--forward-to 127.0.0.1:5000/stripe/webhook" in listen


def test_endpoints_on_the_accounts_default_version_and_duplicates_are_named(runner, sandbox, db):
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sandbox.url})
    default = client.v1.webhook_endpoints.create(params={"url": URL, "enabled_events": ["*"]})  # no api_version
    first = client.v1.webhook_endpoints.create(params={
        "url": URL, "api_version": API_VERSION, "enabled_events": list(HANDLED_EVENTS)})
    twin = client.v1.webhook_endpoints.create(params={
        "url": URL, "api_version": API_VERSION, "enabled_events": list(HANDLED_EVENTS)})
    output = setup(runner).output
    assert f"Webhook endpoint {first.id} for {URL} is already set up" in output  # the oldest is kept
    assert f"endpoint {default.id} at the same URL sends events in the account's default API version" in output
    assert f"endpoint {twin.id} at the same URL duplicates it" in output
    assert len(endpoints(sandbox)) == 3  # nothing is deleted on the operator's behalf
