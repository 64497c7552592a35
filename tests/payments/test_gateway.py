"""The gateway's own decisions: which payment methods may be configured, what Stripe's view of a
session means for its order, and what is read from a webhook (its ids, nothing else)."""

import json

import pytest

from sandbox import sign_payload
from shop import create_app
from shop.config import load_config
from shop.payments import gateway
from shop.payments.gateway import PAYMENT_METHOD_TYPES, CheckoutPayment, InvalidWebhook
from tests.conftest import WEBHOOK_SECRET


def test_payment_methods_are_read_as_a_clean_list(monkeypatch):
    monkeypatch.setenv("STRIPE_PAYMENT_METHODS", " Card, bacs_debit,,card ")
    assert load_config()["STRIPE_PAYMENT_METHODS"] == ("card", "bacs_debit")
    monkeypatch.delenv("STRIPE_PAYMENT_METHODS")
    assert load_config()["STRIPE_PAYMENT_METHODS"] == ()  # Stripe's dashboard decides


def test_the_shop_refuses_to_start_with_a_payment_method_stripe_does_not_know(monkeypatch):
    monkeypatch.setenv("STRIPE_PAYMENT_METHODS", "card,bacs")
    with pytest.raises(RuntimeError, match="STRIPE_PAYMENT_METHODS names payment methods Stripe does not know: bacs"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_the_known_payment_methods_are_stripe_pythons():
    assert {"card", "bacs_debit", "sepa_debit", "link"} <= PAYMENT_METHOD_TYPES and "bacs" not in PAYMENT_METHOD_TYPES


def payment(**fields) -> CheckoutPayment:
    base = {"session_id": "cs_1", "status": "complete", "payment_status": "paid", "amount_total": 100, "currency": "gbp"}
    return CheckoutPayment(**{**base, **fields})


@pytest.mark.parametrize(("fields", "outcome"), [
    ({"status": "open", "payment_status": "unpaid"}, "open"),
    ({"status": "expired", "payment_status": "unpaid"}, "expired"),
    ({}, "paid"),
    ({"payment_status": "no_payment_required"}, "paid"),
    ({"payment_status": "unpaid", "payment_intent_status": "processing"}, "processing"),
    ({"payment_status": "unpaid", "payment_intent_status": "succeeded"}, "processing"),  # until Stripe says paid
    ({"payment_status": "unpaid", "payment_intent_status": "requires_payment_method"}, "failed"),
    ({"payment_status": "unpaid", "payment_intent_status": "canceled"}, "failed"),
])
def test_what_stripes_view_of_a_session_means(fields, outcome):
    assert payment(**fields).outcome == outcome


def verified(app, event: dict) -> gateway.WebhookEvent:
    payload = json.dumps(event).encode()
    with app.app_context():
        return gateway.verify_event(payload, sign_payload(payload, WEBHOOK_SECRET))


def test_only_ids_are_read_from_a_webhook(app):
    event = verified(app, {"id": "evt_1", "type": "checkout.session.completed", "api_version": "2024-06-20",
                           "data": {"object": {"object": "checkout.session", "id": "cs_1", "payment_status": "paid",
                                               "shipping_details": {"name": "Someone"}}}})
    assert (event.session_id, event.api_version, event.payment_intent_id) == ("cs_1", "2024-06-20", None)
    assert not hasattr(event, "payment")  # nothing of the payload's shape to trust
    refund = verified(app, {"id": "evt_2", "type": "refund.updated",
                            "data": {"object": {"object": "refund", "id": "re_1", "payment_intent": "pi_1"}}})
    assert (refund.session_id, refund.object_id, refund.payment_intent_id) == (None, "re_1", "pi_1")


def test_an_event_without_the_expected_parts_is_refused_or_read_as_nothing(app):
    with pytest.raises(InvalidWebhook):  # data that is not an object: a 400, never retried
        verified(app, {"id": "evt_3", "type": "checkout.session.completed", "data": "nothing"})
    odd = verified(app, {"id": "evt_4", "type": "checkout.session.completed", "data": {"object": {}}})
    assert (odd.session_id, odd.object_type, odd.api_version) == (None, None, None)
    with pytest.raises(InvalidWebhook):
        verified(app, {"type": "no id"})
