"""``flask --app wsgi comments notify``: one email to the moderators about the comments waiting,
through a real SMTP server; each comment announced once, and again only if the send failed."""

from shop.comments.models import PENDING
from tests.comments.conftest import comments_in_db, make_comment
from tests.conftest import make_publication


def test_moderators_are_told_once_about_each_comment_waiting(app, runner, smtp, db, publication):
    app.config["COMMENTS_NOTIFY"] = "mods@example.org, editor@example.org"
    other = make_publication(isbn="9780000000019", title="Another report")
    make_comment(publication, number=7, status=PENDING, name="Secret Name", email="secret@example.org",
                 text="Private words.")
    make_comment(other, number=8, status=PENDING)
    make_comment(publication, number=9)  # published: nothing to moderate

    result = runner.invoke(args=["comments", "notify"])
    assert result.exit_code == 0, result.output
    assert "Told mods@example.org, editor@example.org about 2 waiting comments." in result.output
    [message] = smtp.messages
    assert message["Subject"] == "2 reader comments waiting for moderation"
    assert sorted(smtp.envelopes[0].rcpt_tos) == ["editor@example.org", "mods@example.org"]
    body = message.get_content()
    assert "#7 on “Leadership and engagement for improvement in the NHS”" in body
    assert "#8 on “Another report”" in body and "#9" not in body
    assert "http://shop.test/staff/comments" in body
    for private in ("Secret Name", "secret@example.org", "Private words."):
        assert private not in body  # nothing that erasure would have to reach
    assert all(c.notified_at is not None for c in comments_in_db() if c.status == PENDING)

    again = runner.invoke(args=["comments", "notify"])
    assert again.exit_code == 0 and "No new comments waiting." in again.output
    make_comment(publication, number=10, status=PENDING)
    runner.invoke(args=["comments", "notify"])
    assert len(smtp.messages) == 2 and "#10 on" in smtp.messages[1].get_content()
    assert "#7" not in smtp.messages[1].get_content()


def test_a_failed_send_marks_nothing_and_the_next_run_sends(app, runner, smtp, db, publication):
    app.config["COMMENTS_NOTIFY"] = "mods@example.org"
    make_comment(publication, status=PENDING)
    smtp.stop()
    result = runner.invoke(args=["comments", "notify"])
    assert result.exit_code == 1 and "Could not send the email" in result.output
    assert comments_in_db()[0].notified_at is None
    smtp.start()
    assert runner.invoke(args=["comments", "notify"]).exit_code == 0
    assert len(smtp.messages) == 1 and comments_in_db()[0].notified_at is not None


def test_notify_without_moderators_or_with_a_bad_address(app, runner, smtp, db, publication):
    make_comment(publication, status=PENDING)
    assert "COMMENTS_NOTIFY is not set" in runner.invoke(args=["comments", "notify"]).output
    app.config["COMMENTS_NOTIFY"] = "mods@example.org, not an address"
    result = runner.invoke(args=["comments", "notify"])
    assert result.exit_code == 1 and "'not an address' is not an email address" in result.output
    assert smtp.messages == [] and comments_in_db()[0].notified_at is None
