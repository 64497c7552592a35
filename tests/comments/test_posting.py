"""Readers' comments: posting one, waiting for moderation, being published with a number; every
guard against spam and forgery refusing without losing the text or storing anything; text shown
as text; and the publication page staying one cached, cookie-less page that changes the moment
a moderator does."""

import html
import re
from datetime import UTC, datetime

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select, text, update

from shop.catalogue.models import Publication
from shop.comments import queries, services, stamp
from shop.comments.models import PENDING, Comment
from shop.comments.rules import CommentDetails
from shop.timeutil import utcnow
from shop.web.pagecache import EXTENSION
from tests.comments.conftest import GOOD, comments_in_db, form_token, make_comment
from tests.conftest import ISBN, count_queries, isbn13, make_publication, page_token
from tests.support import race


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def comments_section(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.index('<section class="comments"') :]


def approve(staff_client, *comments, do: str = "approve"):
    """Publish (or reject, or mark as spam) comments as a moderator does, on the queue page."""
    token = page_token(staff_client, "/staff/comments")
    data = {"csrf_token": token, "do": do, "comment": [str(c.id) for c in comments]}
    response = staff_client.post("/staff/comments/moderate", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def test_post_wait_approve_and_it_is_shown_with_its_number_and_details(reader, client, staff_client, db, publication):
    response = reader.post()
    assert response.status_code == 303
    assert response.headers["Location"] == f"/publications/{ISBN}/comments/sent"
    assert "Set-Cookie" not in response.headers
    sent = client.get(response.headers["Location"])
    assert "waiting for moderation" in page_text(sent) and "Set-Cookie" not in sent.headers

    [comment] = comments_in_db()
    assert (comment.number, comment.status, comment.email) == (1, PENDING, "ada.nurse@example.org")
    assert comment.text == GOOD["text"]  # as typed
    waiting = page_text(reader.page())
    assert "Comments: 0" in waiting and "Ada Nurse" not in waiting  # not before a moderator reads it

    approve(staff_client, comment)
    shown = reader.page()
    section = comments_section(shown)
    assert "Comments: 1" in page_text(shown)
    assert '<a href="#comments">Comments: 1</a>' in shown.get_data(as_text=True)  # near the top
    assert 'id="comment-1"' in section and ">#1</a>" in section
    for detail in ("Ada Nurse", "Practice nurse", "Leeds PCT", utcnow().strftime("%B %Y")):
        assert detail in html.unescape(section), detail
    assert "<p>A clear report.</p><p>The section on engagement is the one to read first.</p>" in section
    assert "ada.nurse@example.org" not in shown.get_data(as_text=True)  # never shown
    assert "Set-Cookie" not in shown.headers


def test_approved_comments_are_listed_oldest_first_and_no_others(client, db, publication):
    from datetime import timedelta

    now = utcnow()
    make_comment(publication, number=7, name="Second", posted_at=now - timedelta(days=1))
    make_comment(publication, number=9, name="First", posted_at=now - timedelta(days=30))
    make_comment(publication, number=10, name="Waiting", status=PENDING)
    make_comment(publication, number=11, name="Rejected one", status="rejected")
    make_comment(publication, number=12, name="Spammer", status="spam")
    other = make_publication(isbn=isbn13(1), title="Another report")
    make_comment(other, number=13, name="Elsewhere")
    section = html.unescape(comments_section(client.get(f"/publications/{ISBN}")))
    assert section.index("First") < section.index("Second")
    for absent in ("Waiting", "Rejected one", "Spammer", "Elsewhere"):
        assert absent not in section
    assert "Comments: 2" in section


def test_a_name_alone_is_enough_and_optional_details_stay_out(reader, staff_client, db, publication):
    assert reader.post(job_title="", organisation="").status_code == 303
    [comment] = comments_in_db()
    assert comment.job_title is None and comment.organisation is None
    approve(staff_client, comment)
    section = comments_section(reader.page())
    assert 'class="comment-job"' not in section and 'class="comment-organisation"' not in section


REFUSALS = [
    # (what, how to post, status, message on the page)
    ("honeypot", {"homepage": "http://spam.example"}, 400, "a field meant to stay empty was filled in"),
    ("too fast", {"wait": 1}, 422, "a moment after the form was opened"),
    ("forged time", {"shown": TimestampSigner("not our key", salt=stamp.SALT).sign("shown").decode()}, 422, "could not tell when this form was opened"),
    ("no time", {"shown": ""}, 422, "could not tell when this form was opened"),
    ("another title's form", {"shown": "other-title"}, 422, "could not tell when this form was opened"),
    ("form a day old", {"wait": 25 * 3600}, 422, "opened too long ago"),
    ("no name", {"name": "  "}, 422, "Enter your name"),
    ("bad email", {"email": "ada at example"}, 422, "Enter an email address like name@example.org"),
    ("no email", {"email": ""}, 422, "Enter your email address"),
    ("too long", {"text": "x" * 5001}, 422, "the most it may be is 5,000"),
    ("too many links", {"text": "See http://a.example, www.b.example and https://c.example now."}, 422, "Your comment has 3 links; it may have at most 2"),
    ("a link as a name", {"name": "Cheap pills www.pills.example"}, 422, "Please leave web addresses out of your name"),
]


@pytest.mark.parametrize("what, changes, status, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_posts_keep_the_text_store_nothing_and_show_nothing(reader, db, publication, what, changes, status, message):
    changes = dict(changes)
    if changes.get("shown") == "other-title":  # a real token, from another publication's page
        other = make_publication(isbn=isbn13(77), title="Another report")
        with reader.client.application.test_request_context():
            changes["shown"] = stamp.issue(other.isbn)
    wait = changes.pop("wait", 30)
    typed = changes.get("text", "My comment, which I would hate to lose.\n\nSecond paragraph.")
    response = reader.post(wait=wait, **{"text": typed, **changes})
    page = page_text(response)
    assert response.status_code == status, page
    assert message in page
    assert "Set-Cookie" not in response.headers
    assert f">{typed}</textarea>" in page  # their text is in the form to send again
    assert 'name="shown" value="' in page  # a fresh stamp, so sending again can succeed
    assert comments_in_db() == []  # never queued, not even as spam
    assert "Comments: 0" in page_text(reader.page())


def test_a_refused_post_can_be_sent_again_from_its_page(reader, db, publication):
    refused = reader.post(wait=1)  # too fast
    assert refused.status_code == 422
    again = reader.post(shown=form_token(refused.get_data(as_text=True)), wait=20)
    assert again.status_code == 303
    assert len(comments_in_db()) == 1


def test_field_errors_are_listed_and_tied_to_their_fields(reader, publication):
    page = reader.post(name="", email="nope").get_data(as_text=True)
    assert '<a href="#comment-name">Name</a>' in page and '<a href="#comment-email">Email address</a>' in page
    assert re.search(r'<input id="comment-name" name="name" required aria-describedby="comment-name-hint comment-name-error" aria-invalid="true"', page)
    assert 'value="Practice nurse"' in page and 'value="nope"' in page  # the other fields are kept too


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}],
)
def test_cross_site_posts_are_refused_and_nothing_is_stored(reader, db, publication, headers):
    response = reader.post(headers=headers)
    assert response.status_code == 403
    assert "sent from another website" in page_text(response)
    assert comments_in_db() == []


def test_same_origin_posts_need_no_token_or_cookie(reader, db, publication):
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}, {}):
        assert reader.post(headers=headers).status_code == 303
    assert len(comments_in_db()) == 3


def test_one_address_may_post_only_so_often_and_keeps_its_text(app, reader, client, db, publication):
    app.config["COMMENTS_LIMIT_PER_ADDRESS"] = "3 per hour"
    codes = [reader.post(text=f"Comment number {n}.").status_code for n in range(3)]
    refused = reader.post(text="The fourth, kept.")
    assert codes == [303, 303, 303] and refused.status_code == 429
    assert "Too many comments have been sent from your internet address" in page_text(refused)
    assert ">The fourth, kept.</textarea>" in page_text(refused)
    assert len(comments_in_db()) == 3
    # Refused posts count too: a robot probing the checks is held back as surely.
    elsewhere = {"REMOTE_ADDR": "192.0.2.7"}
    data = {**GOOD, "shown": form_token(reader.page().get_data(as_text=True))}
    reader.clock.advance(30)
    assert client.post(f"/publications/{ISBN}/comments", data=data, environ_base=elsewhere).status_code == 303
    assert len(comments_in_db()) == 4


def test_closed_comments_take_no_posts_and_show_no_form(app, reader, staff_client, db, publication):
    make_comment(publication, name="Before closing")
    token = form_token(reader.page().get_data(as_text=True))  # a form opened before closing
    services.set_comments_open(publication, False, "desk@example.org")
    db.session.commit()
    page = reader.page().get_data(as_text=True)
    assert "Comments on this publication are closed." in page and 'name="shown"' not in page
    assert "Before closing" in page  # those published stay
    refused = reader.post(shown=token, text="Typed before it closed.")
    assert refused.status_code == 403
    assert "closed" in page_text(refused) and "Typed before it closed." in page_text(refused)
    assert [c.name for c in comments_in_db()] == ["Before closing"]


def test_html_and_script_in_every_field_are_shown_as_text(reader, staff_client, db, publication):
    nasty = '<script>alert("x")</script><b onmouseover="y">bold</b>'
    response = reader.post(
        name=f"Ada {nasty}", job_title=nasty, organisation=nasty,
        text=f"{nasty}\n\n<a href=\"javascript:alert(1)\">click</a> javascript:alert(2)",
    )
    assert response.status_code == 303
    [comment] = comments_in_db()
    assert comment.organisation == nasty  # stored as typed
    approve(staff_client, comment)
    for page in (reader.page().get_data(as_text=True), staff_client.get("/staff/comments?status=approved").get_data(as_text=True),
                 staff_client.get(f"/staff/comments/{comment.number}").get_data(as_text=True)):
        assert "<script>alert" not in page and "<b onmouseover" not in page and 'href="javascript' not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    # And on the page that sends a refused form back.
    refused = reader.post(wait=1, name=nasty, text=nasty).get_data(as_text=True)
    assert "<script>alert" not in refused and "&lt;script&gt;" in refused


def test_web_addresses_are_links_that_are_not_followed(reader, staff_client, db, publication):
    reader.post(text="Evidence: https://www.kingsfund.org.uk/publications?page=2&x=1. Also www.example.org.")
    approve(staff_client, *comments_in_db())
    section = comments_section(reader.page())
    assert ('<a href="https://www.kingsfund.org.uk/publications?page=2&amp;x=1" rel="nofollow ugc">'
            "https://www.kingsfund.org.uk/publications?page=2&amp;x=1</a>. Also www.example.org.") in section


def test_the_moderation_queue_shows_addresses_as_text_not_links(staff_client, db, publication):
    make_comment(publication, status=PENDING, text="Buy now at https://pills.example/cheap")
    page = staff_client.get("/staff/comments").get_data(as_text=True)
    assert "Buy now at https://pills.example/cheap" in page and 'href="https://pills.example' not in page


def test_the_posting_address_asked_for_as_a_page_leads_to_the_comments(client, publication):
    response = client.get(f"/publications/{ISBN}/comments")
    assert response.status_code == 303 and response.headers["Location"] == f"/publications/{ISBN}#comments"
    assert client.get(f"/publications/{isbn13(5)}/comments/sent").status_code == 404
    assert client.post(f"/publications/{isbn13(5)}/comments", data=GOOD).status_code == 404


def test_a_comment_posted_through_the_service_is_checked_by_the_same_rules(db, publication):
    details = CommentDetails(name="", job_title=None, organisation=None, text="x")
    with pytest.raises(services.CommentError, match="Enter your name"):
        services.post_comment(publication, details, "a@example.org", 2, utcnow())


# -- the page cache -----------------------------------------------------------------------------

def test_reading_sets_no_cookie_and_is_served_from_cache_before_and_after_an_approval(app, reader, client, staff_client, db, publication):
    pages = app.extensions[EXTENSION]
    comment = make_comment(publication, status=PENDING, name="Waiting reader")
    first = reader.page()
    with count_queries(db.engine) as again:
        second = reader.page()
    assert again() == 1 and len(pages) == 1  # the row read for the key; the page from the cache
    for response in (first, second):
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        assert "Cookie" in response.vary
    assert "Waiting reader" not in page_text(second)

    approve(staff_client, comment)
    with count_queries(db.engine) as after_approval:
        shown = reader.page()
    with count_queries(db.engine) as after_that:
        cached = reader.page()
    assert "Waiting reader" in page_text(shown) and "Waiting reader" in page_text(cached)  # at once
    assert after_approval() == 2 and after_that() == 1 and len(pages) == 2
    assert "Set-Cookie" not in shown.headers and "Set-Cookie" not in cached.headers


def test_editing_and_removing_a_comment_change_the_cached_page_at_once(reader, staff_client, db, publication):
    comment = make_comment(publication, text="A typo here: 07700 900123.")
    assert "07700 900123" in page_text(reader.page())
    token = page_token(staff_client, f"/staff/comments/{comment.number}")
    saved = staff_client.post(f"/staff/comments/{comment.number}", data={
        "csrf_token": token, "name": comment.name, "job_title": comment.job_title or "",
        "organisation": comment.organisation or "", "text": "A typo here.", "revision": "1",
    })
    assert saved.status_code == 303
    page = page_text(reader.page())
    assert "A typo here." in page and "07700" not in page
    approve(staff_client, comment, do="reject")
    assert "A typo here." not in page_text(reader.page())


def test_a_change_made_behind_the_applications_back_still_shows(reader, db, publication):
    # Another worker, or plain SQL: the triggers of migration 0015 change the publication's
    # comments version in the same statement, so the cached page's key changes with it.
    comment = make_comment(publication, name="Original name")
    assert "Original name" in page_text(reader.page())
    db.session.execute(update(Comment).where(Comment.id == comment.id).values({Comment.name: "Changed in SQL"}))
    db.session.commit()
    assert "Changed in SQL" in page_text(reader.page())
    db.session.execute(text("DELETE FROM comment"))
    db.session.commit()
    assert "Changed in SQL" not in page_text(reader.page())


def test_comments_that_are_not_published_leave_the_cached_page_alone(app, reader, db, publication):
    before = db.session.scalar(select(Publication.comments_version))
    reader.page()
    reader.post()
    services.moderate([comments_in_db()[0].id], "rejected", "desk@example.org", utcnow())
    db.session.commit()
    services.purge(datetime(2100, 1, 1, tzinfo=UTC), 1)
    db.session.commit()
    assert db.session.scalar(select(Publication.comments_version)) == before
    assert len(app.extensions[EXTENSION]) == 1


def test_the_form_time_is_new_in_every_response_even_from_the_cache(reader, clock, db, publication):
    signer = TimestampSigner("test-secret", salt=stamp.SALT)
    first = form_token(reader.page().get_data(as_text=True))
    clock.advance(3600)
    with count_queries(db.engine) as cached:
        later = form_token(reader.page().get_data(as_text=True))
    assert cached() == 1
    shown_at = [signer.unsign(token, return_timestamp=True)[1].timestamp() for token in (first, later)]
    assert shown_at[1] - shown_at[0] == 3600
    assert int(shown_at[1]) == int(clock.now)
    # So a robot posting at once from a page cached an hour ago is still too fast.
    assert reader.post(shown=later, wait=0).status_code == 422


def test_a_page_with_50_comments_is_the_same_few_statements(client, db, publication):
    with count_queries(db.engine) as none_first:
        client.get(f"/publications/{ISBN}")
    for n in range(50):
        make_comment(publication, number=n + 1, name=f"Reader {n:02d}")
    make_comment(publication, number=51, status=PENDING)
    with count_queries(db.engine) as fifty_first:
        page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    with count_queries(db.engine) as fifty_again:
        assert client.get(f"/publications/{ISBN}").get_data(as_text=True).count('class="comment"') == 50
    assert page.count('class="comment"') == 50 and "Comments: 50" in page
    assert none_first() == fifty_first() == 2 and fifty_again() == 1


def test_a_reader_with_a_basket_gets_their_own_page_with_the_form_time_filled(shopper, reader, client, db, publication):
    shopper.add()
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "(1 copy)" in page and "<page-hole" not in page
    assert reader.post(shown=form_token(page)).status_code == 303


# -- numbers ------------------------------------------------------------------------------------

def test_numbers_continue_after_the_highest_including_imported_ones(reader, db, publication):
    make_comment(publication, number=4210)
    make_comment(publication, number=17)
    reader.post()
    assert [c.number for c in comments_in_db()] == [17, 4210, 4211]


def test_comments_posted_at_once_get_numbers_of_their_own(app, db, publication):
    publication_id = publication.id

    def post(index: int) -> int:
        with app.app_context():
            from shop.extensions import db as _db

            pub = _db.session.get(Publication, publication_id)
            details = CommentDetails(name=f"Reader {index}", job_title=None, organisation=None, text="At the same time.")
            comment = services.post_comment(pub, details, "a@example.org", 2, utcnow())
            _db.session.commit()
            return comment.number

    results = race(8, post)
    assert sorted(results) == list(range(1, 9)), results
    assert [c.number for c in comments_in_db()] == list(range(1, 9))


def test_the_published_query_reads_only_what_the_page_shows(db, publication):
    make_comment(publication, number=3)
    [row] = queries.published(publication.id)
    assert row._fields == ("number", "name", "job_title", "organisation", "posted_at", "text")
    assert row.number == 3 and row.name == GOOD["name"]
