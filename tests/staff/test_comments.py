"""The staff's side of comments: the queue, publishing, rejecting and marking spam one at a time or
ticked together, edits with their history, closing a publication's comments, erasure, and the
dashboard's count of comments waiting."""

import html
import re
from datetime import timedelta

from sqlalchemy import select

from shop.comments.models import APPROVED, PENDING, CommentEvent
from shop.timeutil import utcnow
from tests.comments.conftest import comments_in_db, make_comment
from tests.conftest import ISBN, STAFF_EMAIL, isbn13, make_publication, page_token


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def words(response) -> str:
    """The page's text as a reader hears it: no tags, one space between words."""
    return " ".join(re.sub(r"<[^>]+>", "", text_of(response)).split())


def moderate(staff_client, do: str, *comments, back: str = ""):
    data = {"csrf_token": page_token(staff_client, "/staff/comments"), "do": do, "back": back,
            "comment": [str(c.id) for c in comments]}
    return staff_client.post("/staff/comments/moderate", data=data)


def followed(staff_client, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return text_of(staff_client.get(response.headers["Location"]))


def events(comment) -> list[tuple[str, str, dict | None, dict | None]]:
    from shop.extensions import db

    return [(e.action, e.actor, e.before, e.after) for e in db.session.scalars(
        select(CommentEvent).where(CommentEvent.comment_id == comment.id).order_by(CommentEvent.id))]


def test_the_queue_shows_waiting_comments_newest_first_with_their_publication(staff_client, db, publication):
    other = make_publication(isbn=isbn13(1), title="Social care explained")
    now = utcnow()
    make_comment(publication, number=1, name="Older reader", status=PENDING, posted_at=now - timedelta(hours=2))
    make_comment(other, number=2, name="Newer reader", status=PENDING, posted_at=now - timedelta(hours=1))
    make_comment(publication, number=3, name="Published reader")
    page = text_of(staff_client.get("/staff/comments"))
    assert "2 waiting comments" in page
    assert page.index("Newer reader") < page.index("Older reader")
    assert "Published reader" not in page
    assert "Social care explained" in page and "Leadership and engagement" in page
    assert "ada.nurse@example.org" in page  # moderators see the email address
    published = text_of(staff_client.get("/staff/comments?status=approved"))
    assert "Published reader" in published and "Older reader" not in published
    everything = text_of(staff_client.get("/staff/comments?status=all"))
    assert all(name in everything for name in ("Older reader", "Newer reader", "Published reader"))
    assert "2 waiting" in text_of(staff_client.get("/staff/comments?status=nonsense"))  # falls back


def test_one_comment_is_published_from_its_row_and_the_history_says_who(staff_client, db, publication):
    comment = make_comment(publication, status=PENDING)
    page = followed(staff_client, moderate(staff_client, f"approve-{comment.id}"))
    assert "Published: #1." in page
    [comment] = comments_in_db()
    assert comment.status == APPROVED and comment.moderated_by == STAFF_EMAIL and comment.moderated_at
    assert events(comment) == [("approved", STAFF_EMAIL, {"status": PENDING}, {"status": APPROVED})]
    again = followed(staff_client, moderate(staff_client, f"approve-{comment.id}"))
    assert "Already published, so left as they were: #1." in again
    assert len(events(comment)) == 1  # a second click records nothing


def test_ticked_comments_are_moderated_together(staff_client, db, publication):
    ticked = [make_comment(publication, status=PENDING) for _ in range(3)]
    left = make_comment(publication, status=PENDING, name="Not ticked")
    page = followed(staff_client, moderate(staff_client, "spam", *ticked))
    assert "Marked as spam: #1, #2, #3." in page
    assert [c.status for c in comments_in_db()] == ["spam", "spam", "spam", PENDING]
    assert "Not ticked" in page and left.number == 4


def test_moderating_needs_a_choice_and_a_selection(staff_client, db, publication):
    make_comment(publication, status=PENDING)
    assert "Select the comments first" in followed(staff_client, moderate(staff_client, "approve"))
    assert "Choose publish, reject or spam" in followed(staff_client, moderate(staff_client, "delete-1"))
    assert [c.status for c in comments_in_db()] == [PENDING]


def test_moderation_goes_back_only_to_a_comments_page(staff_client, db, publication):
    comment = make_comment(publication, status=PENDING)
    for back, expected in [(f"/staff/comments/{comment.number}", f"/staff/comments/{comment.number}"),
                           ("https://evil.example/staff/comments", "/staff/comments"),
                           ("//evil.example/staff/comments", "/staff/comments"),
                           ("/staff/orders", "/staff/comments")]:
        response = moderate(staff_client, f"reject-{comment.id}", back=back)
        assert response.headers["Location"] == expected, back


def test_a_published_comment_can_be_removed_and_published_again(staff_client, db, publication, client):
    comment = make_comment(publication, name="Shown reader")
    assert "Shown reader" in text_of(client.get(f"/publications/{ISBN}"))
    moderate(staff_client, f"reject-{comment.id}")
    assert "Shown reader" not in text_of(client.get(f"/publications/{ISBN}"))
    moderate(staff_client, f"approve-{comment.id}")
    assert "Shown reader" in text_of(client.get(f"/publications/{ISBN}"))
    assert [e[0] for e in events(comment)] == ["rejected", "approved"]


def _edit(staff_client, comment, **fields):
    data = {"csrf_token": page_token(staff_client, f"/staff/comments/{comment.number}"), "name": comment.name,
            "job_title": comment.job_title or "", "organisation": comment.organisation or "",
            "text": comment.text, "revision": str(comment.revision), **fields}
    return staff_client.post(f"/staff/comments/{comment.number}", data=data)


def test_an_edit_is_saved_and_recorded_with_before_and_after(staff_client, db, publication):
    comment = make_comment(publication, text="Call me on 07700 900123.\r\n\r\nThanks.")
    page = followed(staff_client, _edit(staff_client, comment, text="Thanks.", organisation="Leeds CCG"))
    assert "Comment #1 saved." in page
    [saved] = comments_in_db()
    assert (saved.text, saved.organisation, saved.revision) == ("Thanks.", "Leeds CCG", 2)
    [(action, actor, before, after)] = events(saved)
    assert (action, actor) == ("edited", STAFF_EMAIL)
    assert before == {"organisation": "Leeds PCT", "text": "Call me on 07700 900123.\r\n\r\nThanks."}
    assert after == {"organisation": "Leeds CCG", "text": "Thanks."}
    assert "Edited by desk@example.org" in page and "“Leeds PCT” → “Leeds CCG”" in page
    nothing = followed(staff_client, _edit(staff_client, saved))
    assert "Nothing had changed" in nothing and len(events(saved)) == 1


def test_an_edit_over_someone_elses_change_is_refused_and_keeps_the_text(staff_client, db, publication):
    comment = make_comment(publication)
    first = _edit(staff_client, comment, text="First moderator's text.")
    assert first.status_code == 303
    late = _edit(staff_client, comment, text="Second moderator's text.", revision="1")
    page = text_of(late)
    assert late.status_code == 409
    assert "Someone else changed comment #1 while you were editing it" in page
    assert "As it is now" in page and "<p>First moderator's text.</p>" in page  # theirs, shown
    assert "Second moderator's text.</textarea>" in page  # this editor's, still in the form
    assert comments_in_db()[0].text == "First moderator's text."
    saved_again = _edit(staff_client, comments_in_db()[0], text="Second moderator's text.")
    assert saved_again.status_code == 303 and comments_in_db()[0].text == "Second moderator's text."


def test_a_change_of_status_does_not_stale_an_open_edit_form(staff_client, db, publication):
    comment = make_comment(publication, status=PENDING)
    moderate(staff_client, f"approve-{comment.id}")
    assert _edit(staff_client, comment, text="Corrected.").status_code == 303
    assert comments_in_db()[0].text == "Corrected."


def test_an_edit_is_checked_by_the_comment_rules(staff_client, db, publication):
    comment = make_comment(publication)
    response = _edit(staff_client, comment, name="", text="x" * 5001)
    assert response.status_code == 422
    page = text_of(response)
    assert "Enter your name" in page and "the most it may be is 5,000" in page
    assert comments_in_db()[0].name == comment.name


def test_comments_are_closed_and_opened_per_publication_and_recorded(staff_client, client, db, publication):
    other = make_publication(isbn=isbn13(2), title="Still open")
    url = f"/staff/comments/publications/{ISBN}"
    token = page_token(staff_client, url)
    page = followed(staff_client, staff_client.post(url + "/open", data={"csrf_token": token, "open": "no"}))
    assert "are closed" in page and "Comments closed by desk@example.org" in page
    assert "Comments on this publication are closed." in text_of(client.get(f"/publications/{ISBN}"))
    assert 'name="shown"' in client.get(f"/publications/{other.isbn}").get_data(as_text=True)
    again = followed(staff_client, staff_client.post(url + "/open", data={"csrf_token": token, "open": "no"}))
    assert "already closed" in again
    followed(staff_client, staff_client.post(url + "/open", data={"csrf_token": token, "open": "yes"}))
    assert 'name="shown"' in client.get(f"/publications/{ISBN}").get_data(as_text=True)
    actions = db.session.scalars(select(CommentEvent.action).where(CommentEvent.comment_id.is_(None))).all()
    assert sorted(actions) == ["closed", "opened"]


def test_the_catalogue_edit_page_links_to_the_publications_comments(staff_client, publication):
    page = staff_client.get(f"/staff/catalogue/{ISBN}").get_data(as_text=True)
    assert f'href="/staff/comments/publications/{ISBN}"' in page


def test_the_dashboard_counts_the_comments_waiting(staff_client, db, publication):
    assert "No comments wait for moderation." in text_of(staff_client.get("/staff"))
    other = make_publication(isbn=isbn13(3), title="Another report")
    waiting = [make_comment(publication, status=PENDING), make_comment(publication, status=PENDING),
               make_comment(other, status=PENDING)]
    make_comment(publication)  # published: not waiting
    page = words(staff_client.get("/staff"))
    assert "3 comments wait for moderation" in page
    assert "Leadership and engagement for improvement in the NHS: 2 waiting" in page
    assert "Another report: 1 waiting" in page
    moderate(staff_client, "approve", *waiting)
    assert "No comments wait for moderation." in text_of(staff_client.get("/staff"))


def test_staff_erase_a_persons_details_from_their_comments(staff_client, db, publication):
    theirs = [make_comment(publication, email="Ada.Nurse@Example.org"), make_comment(publication, status=PENDING)]
    someone_else = make_comment(publication, name="Ben Other", email="ben@example.org", organisation="Kept Trust")
    form = text_of(staff_client.get(f"/staff/comments/erase?email={theirs[0].email}"))
    assert 'value="Ada.Nurse@Example.org"' in form
    token = page_token(staff_client, "/staff/comments/erase")
    page = followed(staff_client, staff_client.post("/staff/comments/erase", data={
        "csrf_token": token, "email": " ada.nurse@example.org ", "remove_text": "y"}))
    assert "Erased ada.nurse@example.org from 2 comments (#1, #2; 1 waiting, 1 published)" in page
    assert "their text removed" in page
    erased = [c for c in comments_in_db() if c.id != someone_else.id]
    for comment in erased:
        assert (comment.name, comment.job_title, comment.organisation, comment.email, comment.text) == (
            "Anonymous", None, None, None, "")
        assert comment.erased_at is not None
    other = next(c for c in comments_in_db() if c.id == someone_else.id)
    assert (other.name, other.email, other.organisation) == ("Ben Other", "ben@example.org", "Kept Trust")
    assert "removed at its author's request" in text_of(staff_client.get(f"/publications/{ISBN}"))
    nothing = followed(staff_client, staff_client.post("/staff/comments/erase", data={
        "csrf_token": token, "email": "ada.nurse@example.org"}))
    assert "nothing was changed" in nothing


def test_an_unknown_comment_is_a_404(staff_client, db):
    assert staff_client.get("/staff/comments/999").status_code == 404
    assert staff_client.get("/staff/comments/publications/9780000000000").status_code == 404


def test_the_moderation_pages_cost_the_same_statements_however_long_the_queue(staff_client, db, publication):
    from tests.conftest import count_queries

    make_comment(publication, status=PENDING)
    with count_queries(db.engine) as one:
        staff_client.get("/staff/comments")
    for _ in range(30):
        make_comment(publication, status=PENDING)
    with count_queries(db.engine) as many:
        page = staff_client.get("/staff/comments").get_data(as_text=True)
    assert page.count('name="comment"') == 31
    assert many() == one()


def test_comment_numbers_are_the_comments_address_on_the_desk(staff_client, db, publication):
    comment = make_comment(publication, number=4321)
    page = text_of(staff_client.get("/staff/comments/4321"))
    assert "Comment #4321" in page and "Published" in page
    assert f'name="revision" type="hidden" value="{comment.revision}"' in page
