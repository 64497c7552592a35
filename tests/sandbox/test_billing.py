"""The sandbox's Stripe Billing as strict as Stripe where the shop could go wrong: customers found
by email, invoices made, finalized, sent, paid, voided and written off in Stripe's order only,
Stripe's limits on custom fields, the hosted invoice page and its PDF, the invoice events in each
API version (nothing of the sandbox's own bookkeeping ever rendered), and promotion codes.
Driven through the real SDK over HTTP, on a sandbox of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import stripe

from sandbox import SandboxServer
from sandbox.state import SandboxError
from sandbox.versions import LATEST
from tests.conftest import assert_requests_conform

LEGACY = "2024-06-20"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox: SandboxServer) -> Iterator[None]:
    sandbox.state.reset()
    sandbox.state.configure(deliver_webhooks=False, api_version=LATEST)
    sandbox.state.take_nonconforming()
    yield
    assert_requests_conform(sandbox)  # what these tests send is what Stripe takes, refusals aside


@pytest.fixture()
def client(sandbox: SandboxServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_billing", base_addresses={"api": sandbox.url}, max_network_retries=0)


def draft(client: stripe.StripeClient, **changes) -> stripe.Invoice:
    customer = client.v1.customers.create(params={"email": "ap@example.org", "name": "A Trust"})
    params = {"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 30,
              "currency": "gbp", "custom_fields": [{"name": "Purchase order", "value": "PO-1"}], **changes}
    invoice = client.v1.invoices.create(params=params)  # type: ignore[arg-type]
    client.v1.invoice_items.create(params={"customer": customer.id, "invoice": invoice.id, "currency": "gbp",
                                           "quantity": 10, "unit_amount_decimal": Decimal(750),
                                           "description": "Leadership (print copy)"})
    return invoice


def refused(call, match: str, error=stripe.InvalidRequestError) -> None:
    with pytest.raises(error, match=match):
        call()


def private_keys(value) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if k.startswith("_")] + [k for v in value.values() for k in private_keys(v)]
    if isinstance(value, list):
        return [k for v in value for k in private_keys(v)]
    return []


def test_an_invoice_goes_draft_open_paid_in_stripes_order(client: stripe.StripeClient, sandbox: SandboxServer):
    invoice = draft(client)
    assert (invoice.status, invoice.number, invoice.hosted_invoice_url) == ("draft", None, None)
    assert invoice.due_date - invoice.created == 30 * 86400
    refused(lambda: client.v1.invoices.send_invoice(invoice.id), "finalized")
    opened = client.v1.invoices.finalize_invoice(invoice.id)
    prefix = client.v1.customers.retrieve(opened.customer).invoice_prefix
    assert opened.status == "open" and opened.number == f"{prefix}-0001" and opened.total == 7500
    assert opened.hosted_invoice_url.startswith(sandbox.url + "/invoice/") and opened.invoice_pdf.endswith("/pdf")
    refused(lambda: client.v1.invoices.finalize_invoice(invoice.id), "already finalized")
    refused(lambda: client.v1.invoice_items.create(params={
        "customer": opened.customer, "invoice": invoice.id, "currency": "gbp", "amount": 100}), "draft invoices")
    refused(lambda: client.v1.invoices.delete(invoice.id), "only delete draft")
    with pytest.raises(stripe.CardError, match="no attached payment source"):
        client.v1.invoices.pay(invoice.id)  # a sandbox customer never has a saved card
    paid = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True,
                                                      "expand": ["payments", "amount_paid_off_stripe"]})
    assert (paid.status, paid.amount_paid, paid.amount_remaining, paid.amount_paid_off_stripe) == ("paid", 7500, 0, 7500)
    assert paid.payments.data == []  # nothing paid through Stripe
    refused(lambda: client.v1.invoices.void_invoice(invoice.id), "status is paid")
    types = [e["type"] for e in sandbox.state.events()]
    assert types == ["customer.created", "invoice.created", "invoice.finalized", "invoice.payment_failed", "invoice.paid"]
    second = client.v1.invoices.finalize_invoice(draft(client).id)
    assert second.number.endswith("-0001")  # another customer: its own sequence


def test_void_and_uncollectible_follow_stripes_rules(client: stripe.StripeClient):
    invoice = client.v1.invoices.finalize_invoice(draft(client).id)
    refused(lambda: client.v1.invoices.mark_uncollectible(draft(client).id), "open invoice")
    written_off = client.v1.invoices.mark_uncollectible(invoice.id)
    assert written_off.status == "uncollectible" and written_off.status_transitions.marked_uncollectible_at
    void = client.v1.invoices.void_invoice(invoice.id)
    assert void.status == "void" and void.amount_remaining == 0
    refused(lambda: client.v1.invoices.void_invoice(invoice.id), "status is void")
    gone = draft(client)
    assert client.v1.invoices.delete(gone.id).deleted is True
    refused(lambda: client.v1.invoices.retrieve(gone.id), "No such invoice")


@pytest.mark.parametrize(("changes", "param", "match"), [
    ({"custom_fields": [{"name": f"F{i}", "value": "v"} for i in range(5)]}, "custom_fields", "at most 4 custom fields"),
    ({"custom_fields": [{"name": "N" * 41, "value": "v"}]}, "custom_fields[0][name]", "at most 40 characters"),
    ({"custom_fields": [{"name": "PO", "value": "V" * 141}]}, "custom_fields[0][value]", "at most 140 characters"),
    ({"collection_method": "charge_automatically"}, "days_until_due", "only be set when collection_method is send_invoice"),
    ({"discounts": [{"coupon": "X"}]}, "discounts", "does not implement invoice discounts"),
])
def test_stripes_invoice_limits(client: stripe.StripeClient, changes: dict, param: str, match: str):
    with pytest.raises(stripe.InvalidRequestError, match=match) as error:
        draft(client, **changes)
    assert error.value.param == param


def test_a_value_outside_the_sdks_enum_is_refused_and_reported(client: stripe.StripeClient, sandbox: SandboxServer):
    with pytest.raises(stripe.InvalidRequestError, match="Invalid collection_method"):
        draft(client, collection_method="by_post")
    with pytest.raises(AssertionError, match="POST /v1/invoices: Invalid collection_method"):
        assert_requests_conform(sandbox)


def test_pending_items_join_an_invoice_only_when_asked(client: stripe.StripeClient):
    customer = client.v1.customers.create(params={"email": "lib@example.org"})
    client.v1.invoice_items.create(params={"customer": customer.id, "currency": "gbp", "amount": 500})
    excluded = client.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice"})
    assert excluded.total == 0 and excluded.due_date - excluded.created == 30 * 86400  # the default terms
    included = client.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice",
                                                 "pending_invoice_items_behavior": "include"})
    assert included.total == 500 and included.lines.data[0].amount == 500


def test_customers_are_found_by_email_exactly(client: stripe.StripeClient):
    made = client.v1.customers.create(params={"email": "ap@example.org", "name": "A Trust",
                                              "address": {"line1": "1 Road", "city": "Leeds", "country": "GB"}})
    assert [c.id for c in client.v1.customers.list(params={"email": "ap@example.org"}).data] == [made.id]
    assert client.v1.customers.list(params={"email": "AP@example.org"}).data == []  # case-sensitive, as Stripe
    updated = client.v1.customers.update(made.id, params={"name": "A Trust (Library)"})
    assert updated.name == "A Trust (Library)" and updated.address.city == "Leeds"


def test_the_hosted_page_takes_a_card_or_says_what_is_wrong(client: stripe.StripeClient, sandbox: SandboxServer):
    invoice = client.v1.invoices.finalize_invoice(draft(client).id)
    page = requests.get(invoice.hosted_invoice_url, timeout=10)
    assert page.status_code == 200 and "PO-1" in page.text and invoice.number in page.text
    assert '<label for="card_number">Card number</label>' in page.text
    missing = requests.post(invoice.hosted_invoice_url, data={"name": "", "card_number": ""}, timeout=10)
    assert missing.status_code == 400 and '<a href="#card_number">Enter your card number.</a>' in missing.text
    assert 'aria-invalid="true"' in missing.text
    fields = {"name": "Accounts", "email": "ap@example.org", "expiry": "12/34", "cvc": "123"}
    declined = requests.post(invoice.hosted_invoice_url, data={**fields, "card_number": "4000000000000002"}, timeout=10)
    assert declined.status_code == 402 and "declined" in declined.text
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 1
    paid = requests.post(invoice.hosted_invoice_url, data={**fields, "card_number": "4242424242424242"}, timeout=10)
    assert paid.status_code == 200 and "<strong>Paid</strong>" in paid.text
    after = client.v1.invoices.retrieve(invoice.id, params={"expand": ["payments.data.payment.payment_intent"]})
    intent = after.payments.data[0].payment.payment_intent
    assert after.status == "paid" and intent.status == "succeeded"
    # The intent lists what the invoice allowed; its charge says what paid it.
    assert intent.payment_method_types == ["card", "customer_balance"]
    charge = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]}).latest_charge
    assert charge.payment_method_details.type == "card"
    types = [e["type"] for e in sandbox.state.events() if e["type"].startswith("invoice.payment")]
    assert types == ["invoice.payment_failed", "invoice.payment_succeeded"]
    pdf = requests.get(invoice.invoice_pdf, timeout=10)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["Content-Type"] == "application/pdf"
    assert requests.get(sandbox.url + "/invoice/not-a-token", timeout=10).status_code == 404


def test_includable_fields_and_old_versions_render_like_stripe(client: stripe.StripeClient, sandbox: SandboxServer):
    invoice = client.v1.invoices.finalize_invoice(draft(client).id)
    sandbox.state.pay_invoice_by(invoice.id, "bank_transfer")
    plain = client.v1.invoices.retrieve(invoice.id).to_dict()
    assert "payments" not in plain and "amount_paid_off_stripe" not in plain and "paid" not in plain
    assert private_keys(plain) == []
    legacy = requests.get(f"{sandbox.url}/v1/invoices/{invoice.id}", auth=("sk_test_billing", ""),
                          headers={"Stripe-Version": LEGACY}, timeout=10).json()
    assert legacy["paid"] is True and legacy["payment_intent"].startswith("pi_") and legacy["charge"].startswith("ch_")
    assert private_keys(legacy) == []
    intent = requests.get(f"{sandbox.url}/v1/payment_intents/{legacy['payment_intent']}", auth=("sk_test_billing", ""),
                          headers={"Stripe-Version": LEGACY}, timeout=10).json()
    assert intent["invoice"] == invoice.id and intent["payment_method_types"] == ["card", "customer_balance"]
    [paid_event] = [e for e in sandbox.state.events() if e["type"] == "invoice.paid"]
    payload = json.loads(sandbox.state.event_detail(paid_event["id"], LEGACY)["payload"])
    assert payload["data"]["object"]["paid"] is True and private_keys(payload) == []


def test_overdue_is_what_an_automation_sends(client: stripe.StripeClient, sandbox: SandboxServer):
    invoice = client.v1.invoices.finalize_invoice(draft(client).id)
    answer = requests.post(f"{sandbox.url}/_sandbox/invoices/{invoice.id}/overdue", json={"days": 2}, timeout=10).json()
    assert answer["invoice"]["due_date"] < answer["invoice"]["created"] + 86400
    assert [e["type"] for e in sandbox.state.events()][-1] == "invoice.overdue"
    client.v1.invoices.void_invoice(invoice.id)
    assert requests.post(f"{sandbox.url}/_sandbox/invoices/{invoice.id}/overdue", json={}, timeout=10).status_code == 400


def test_promotion_codes_as_stripe_checks_them(client: stripe.StripeClient, sandbox: SandboxServer):
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "once", "max_redemptions": 1})
    code = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "TEAM10"})
    assert code.promotion.coupon == coupon.id and code.active
    refused(lambda: client.v1.promotion_codes.create(params={
        "promotion": {"type": "coupon", "coupon": coupon.id}, "code": "team10"}), "already exists")
    refused(lambda: client.v1.coupons.create(params={"percent_off": 10, "amount_off": 100, "currency": "gbp"}),
            "exactly one of percent_off or amount_off")
    assert [p.id for p in client.v1.promotion_codes.list(params={"code": "team10"}).data] == [code.id]
    params = {"mode": "payment", "success_url": "https://shop.example.org/ok", "allow_promotion_codes": True,
              "line_items": [{"quantity": 3, "price_data": {"currency": "gbp", "unit_amount": 850,
                                                            "product_data": {"name": "Leadership"}}}]}
    first = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    done = sandbox.state.complete_session(first.id, promotion_code="Team10")[0]
    assert (done["amount_total"], done["total_details"]["amount_discount"]) == (2295, 255)
    expanded = client.v1.checkout.sessions.retrieve(first.id, params={"expand": ["discounts.promotion_code"]})
    assert expanded.discounts[0].promotion_code.code == "TEAM10"
    second = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="This code is invalid"):  # its one redemption is used
        sandbox.state.complete_session(second.id, promotion_code="TEAM10")


def test_the_payment_page_takes_a_code_only_where_the_session_allows_one(client: stripe.StripeClient,
                                                                        sandbox: SandboxServer):
    params = {"mode": "payment", "success_url": "https://shop.example.org/ok?session_id={CHECKOUT_SESSION_ID}",
              "line_items": [{"quantity": 1, "price_data": {"currency": "gbp", "unit_amount": 850,
                                                            "product_data": {"name": "Leadership"}}}]}
    plain = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    assert 'id="promotion_code"' not in requests.get(plain.url, timeout=10).text
    allowing = client.v1.checkout.sessions.create(params={**params, "allow_promotion_codes": True})  # type: ignore[arg-type]
    form = {"email": "ada@example.org", "name": "Ada", "line1": "1 Road", "city": "Leeds", "postal_code": "LS1 1AA",
            "country": "GB", "card_number": "4242424242424242", "expiry": "12/34", "cvc": "123",
            "promotion_code": "NOSUCH"}
    answer = requests.post(allowing.url, data=form, timeout=10, allow_redirects=False)
    assert answer.status_code == 400 and '<a href="#promotion_code">This code is invalid.</a>' in answer.text
    assert 'value="NOSUCH"' in answer.text  # kept
    assert client.v1.checkout.sessions.retrieve(allowing.id).status == "open"


def test_an_invoice_offers_the_payment_methods_it_names(client: stripe.StripeClient, sandbox: SandboxServer):
    refused(lambda: draft(client, payment_settings={"payment_method_types": ["customer_balance"]}),
            "funding_type")
    refused(lambda: draft(client, payment_settings={"payment_method_types": ["sepa_debit"]}), "not sepa_debit")
    card_only = client.v1.invoices.finalize_invoice(
        draft(client, payment_settings={"payment_method_types": ["card"]}).id)
    page = requests.get(card_only.hosted_invoice_url, timeout=10).text
    assert "Pay by card" in page and "Pay by bank transfer" not in page
    with pytest.raises(SandboxError, match="does not take bank transfer"):
        sandbox.state.pay_invoice_by(card_only.id, "bank_transfer")
    both = client.v1.invoices.finalize_invoice(draft(client, payment_settings={
        "payment_method_types": ["card", "customer_balance"],
        "payment_method_options": {"customer_balance": {"funding_type": "bank_transfer",
                                                        "bank_transfer": {"type": "gb_bank_transfer"}}}}).id)
    page = requests.get(both.hosted_invoice_url, timeout=10).text
    assert "Pay by card" in page and "Pay by bank transfer" in page
