"""Emails about no order (notify me) go through the same outbox and SMTP, exactly once, with the
one-click unsubscribe headers of RFC 2369 and RFC 8058."""

import pytest
from sqlalchemy.exc import IntegrityError

from shop.emails.models import NOTIFY_CONFIRM
from shop.emails.outbox import queue_message
from tests.conftest import ISBN, make_publication


def test_a_notify_email_is_delivered_with_its_unsubscribe_headers(client, runner, smtp, db):
    make_publication(availability="31", stock=0)
    client.post("/notify", data={"isbn": ISBN, "email": "reader@example.org"})
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "sent 1" in result.output
    [message] = smtp.messages
    assert message["To"] == "reader@example.org"
    assert message["Subject"].startswith("Confirm: email me when")
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://shop.test/notify/unsubscribe/") and unsubscribe.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    assert unsubscribe.strip("<>") in text
    # The header's address works as RFC 8058 says: a POST with this body, no cookie, no token.
    path = unsubscribe.strip("<>").removeprefix("http://shop.test")
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_one_email_per_recipient_kind_and_topic(app, db):
    with app.test_request_context():
        queue_message(NOTIFY_CONFIRM, "a@example.org", topic="request-1", subject="s",
                      title="T", page_url="u", confirm_url="c", confirm_days=7, list_unsubscribe="x")
        db.session.commit()
        with pytest.raises(IntegrityError):  # the unique index, at the flush
            queue_message(NOTIFY_CONFIRM, "a@example.org", topic="request-1", subject="s",
                          title="T", page_url="u", confirm_url="c", confirm_days=7, list_unsubscribe="x")
        db.session.rollback()
