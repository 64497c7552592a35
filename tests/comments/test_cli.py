"""``flask --app wsgi comments …``: erase and purge do what they say and nothing more; the import
takes every row or none, naming each problem's row and column."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.comments.models import APPROVED, PENDING, Comment, CommentEvent
from shop.comments.services import ERASED
from shop.timeutil import utcnow
from tests.comments.conftest import comments_in_db, make_comment
from tests.conftest import ISBN, isbn13, make_publication

COLUMNS = ["id", "number", "publication_id", "status", "name", "job_title", "organisation", "email",
           "text", "posted_at", "moderated_at", "moderated_by", "revision", "notified_at", "erased_at"]


def snapshot() -> dict[int, tuple]:
    """Every comment, every column: to show what a command did not change."""
    return {c.id: tuple(getattr(c, name) for name in COLUMNS) for c in comments_in_db()}


def history(db) -> list[tuple]:
    return [(e.comment_id, e.action, e.before, e.after)
            for e in db.session.scalars(select(CommentEvent).order_by(CommentEvent.id))]


# -- erase --------------------------------------------------------------------------------------

def test_erase_anonymises_that_persons_comments_and_nothing_else(runner, db, publication, staff_client):
    other_pub = make_publication(isbn=isbn13(1), title="Another report")
    theirs = [
        make_comment(publication, email="ada.nurse@example.org", text="Kept text."),
        make_comment(other_pub, email="ADA.NURSE@example.org ", status=PENDING),
        make_comment(publication, email="ada.nurse@example.org", status="rejected"),
    ]
    others = [make_comment(publication, name="Ben Other", email="ben@example.org"),
              make_comment(publication, name="Imported", email=None)]
    # An edit in the history holds the old organisation: erasure blanks that too.
    from shop.comments import services
    from shop.comments.rules import CommentDetails

    services.edit_comment(theirs[0], CommentDetails("Ada Nurse", "Practice nurse", "Leeds CCG", "Kept text."),
                          theirs[0].revision, "desk@example.org")
    db.session.commit()
    untouched = {id_: row for id_, row in snapshot().items() if id_ in {c.id for c in others}}
    untouched_history = [e for e in history(db) if e[0] in {c.id for c in others}]

    result = runner.invoke(args=["comments", "erase", "Ada.Nurse@example.org"])
    assert result.exit_code == 0, result.output
    assert "Erased ada.nurse@example.org from 3 comments (#1, #2, #3; 1 waiting, 1 published, 1 rejected)" in result.output
    assert "their text kept" in result.output
    for comment in comments_in_db():
        if comment.id in untouched:
            continue
        assert (comment.name, comment.job_title, comment.organisation, comment.email) == ("Anonymous", None, None, None)
        assert comment.erased_at is not None and comment.status in (APPROVED, PENDING, "rejected")
    assert comments_in_db()[0].text == "Kept text."
    assert {id_: row for id_, row in snapshot().items() if id_ in untouched} == untouched
    assert [e for e in history(db) if e[0] in {c.id for c in others}] == untouched_history
    [edit] = [e for e in history(db) if e[1] == "edited"]
    assert edit[2] == {"organisation": ERASED} and edit[3] == {"organisation": ERASED}
    assert [e[1] for e in history(db) if e[0] == theirs[0].id] == ["edited", "erased"]

    page = staff_client.get(f"/publications/{ISBN}").get_data(as_text=True)
    erased = page[page.index('id="comment-1"') : page.index("</li>", page.index('id="comment-1"'))]
    assert "Anonymous" in erased and "Kept text." in erased and "Practice nurse" not in erased

    again = runner.invoke(args=["comments", "erase", "ada.nurse@example.org"])
    assert again.exit_code == 0 and "nothing was changed" in again.output


def test_erase_can_remove_the_text_too(runner, db, publication, client):
    make_comment(publication, email="ada@example.org", text="Please remove this.")
    result = runner.invoke(args=["comments", "erase", "ada@example.org", "--remove-text"])
    assert result.exit_code == 0 and "their text removed" in result.output
    [comment] = comments_in_db()
    assert comment.text == "" and comment.name == "Anonymous"
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "Please remove this." not in page and "removed at its author's request" in page


# -- purge --------------------------------------------------------------------------------------

def test_purge_deletes_only_old_rejected_and_spam_comments_with_their_history(app, runner, db, publication):
    now = utcnow()
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    gone = [make_comment(publication, status="rejected", moderated_at=old),
            make_comment(publication, status="spam", moderated_at=old),
            make_comment(publication, status="spam", moderated_at=old)]
    kept = [make_comment(publication, status="rejected", moderated_at=recent),
            make_comment(publication, status="spam", moderated_at=recent),
            make_comment(publication, status=APPROVED, moderated_at=old, posted_at=old),
            make_comment(publication, status=PENDING, posted_at=now - timedelta(days=400)),
            # Posted long ago but rejected yesterday: counted from the rejection.
            make_comment(publication, status="rejected", posted_at=old, moderated_at=recent)]
    for comment in gone + kept:
        db.session.add(CommentEvent(comment_id=comment.id, publication_id=publication.id, actor="t", action="x"))
    db.session.commit()
    before = {id_: row for id_, row in snapshot().items() if id_ in {c.id for c in kept}}

    result = runner.invoke(args=["comments", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 3 comments moderated more than 90 days ago: 1 rejected and 2 spam." in result.output
    assert snapshot() == before
    assert sorted(e[0] for e in history(db)) == sorted(c.id for c in kept)
    again = runner.invoke(args=["comments", "purge"])
    assert "nothing deleted" in again.output

    app.config["COMMENTS_RETENTION_DAYS"] = 30
    later = runner.invoke(args=["comments", "purge"]).output
    assert "Deleted 3 comments moderated more than 30 days ago: 2 rejected and 1 spam." in later
    assert {c.status for c in comments_in_db()} == {APPROVED, PENDING}


# -- import -------------------------------------------------------------------------------------

HEADER = "isbn,number,name,job_title,organisation,posted_at,text\n"


def write(tmp_path, body: str, name: str = "comments.csv", header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def test_import_publishes_every_row_keeping_numbers(runner, db, publication, tmp_path, client):
    other = make_publication(isbn=isbn13(1), title="Another report")
    path = write(tmp_path, (
        f'978-1-85717-640-7,#4321,Jo Smith,Practice nurse,Leeds PCT,2012-06-14 09:30,"First paragraph.\n\nSecond, with a comma."\n'
        f"{ISBN},4290,Sam Jones,,,14/06/2012,Short and to the point.\n"
        f"{other.isbn},12,Ali Khan,Head of engagement,NHS Improving Quality,2013-01-02T10:00:00+00:00,On the other report.\n"
    ))
    result = runner.invoke(args=["comments", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported comments.csv: 3 comments on 2 publications, published." in result.output
    comments = comments_in_db()
    assert [(c.number, c.status, c.email) for c in comments] == [(12, APPROVED, None), (4290, APPROVED, None), (4321, APPROVED, None)]
    jo = comments[2]
    assert (jo.name, jo.job_title, jo.organisation, jo.text) == ("Jo Smith", "Practice nurse", "Leeds PCT", "First paragraph.\n\nSecond, with a comma.")
    assert jo.posted_at.replace(tzinfo=None).isoformat(timespec="minutes") == "2012-06-14T08:30"  # London summer time
    assert {e[1] for e in history(db)} == {"imported"}
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "Comments: 2" in page and ">#4290</a>" in page and "14 June 2012" in page
    assert page.index("Sam Jones") < page.index("Jo Smith")  # oldest first: midnight, then 09:30

    from shop.comments import services
    from shop.comments.rules import CommentDetails

    new = services.post_comment(publication, CommentDetails("New", None, None, "After the import."), "n@example.org", 2, utcnow())
    assert new.number == 4322  # continues after the highest


def test_import_of_a_file_with_problems_imports_nothing_and_names_each_row_and_column(runner, db, publication, tmp_path):
    make_comment(publication, number=50)
    path = write(tmp_path, (
        f"{ISBN},1,Good Row,,,2012-06-14,Fine.\n"
        f"978-1-85717-640-8,2,Bad Isbn,,,2012-06-14,Text.\n"
        f"{isbn13(77)},3,Not In Catalogue,,,2012-06-14,Text.\n"
        f"{ISBN},1,Same Number,,,2012-06-14,Text.\n"
        f"{ISBN},50,Taken Number,,,2012-06-14,Text.\n"
        f"{ISBN},abc,,,,14 June 2012,\n"
        f"{ISBN},6,Future,,,2999-01-01,Text.\n"
        f"{ISBN},7,Spam www.pills.example,,,2012-06-14,{'x' * 5001}\n"
    ))
    result = runner.invoke(args=["comments", "import", str(path)])
    assert result.exit_code == 1
    output = result.output
    for expected in [
        "Row 3, column A (isbn): ",
        "Row 4, column A (isbn): no publication in the catalogue has ISBN 978-0-00-000077-",
        "Row 5, column B (number): #1 is also row 2's",
        "Row 6, column B (number): #50 is already a comment in the shop.",
        "Row 7, column B (number): 'abc' is not a comment number",
        "Row 7, column C (name): Enter your name",
        "Row 7, column F (posted_at): '14 June 2012' is not a date",
        "Row 7, column G (text): Write your comment.",
        "Row 8, column F (posted_at): '2999-01-01' is in the future.",
        "Row 9, column C (name): Please leave web addresses out of your name.",
        "Row 9, column G (text): Your comment is 5,001 characters long",
        "problem(s) in comments.csv; nothing was imported.",
    ]:
        assert expected in output, expected
    assert [c.number for c in comments_in_db()] == [50]


def test_import_checks_the_header_and_the_encoding(runner, db, publication, tmp_path):
    missing = write(tmp_path, f"{ISBN},1,Jo,2012-06-14\n", header="isbn,number,name,posted_at,colour\n")
    result = runner.invoke(args=["comments", "import", str(missing)])
    assert result.exit_code == 1
    assert "Row 1, column E: 'colour' is not a column this import knows" in result.output
    assert "Row 1: the text column is missing." in result.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + f"{ISBN},1,Siân,,,2012-06-14,Café\n").encode("cp1252"))
    assert "is not saved as UTF-8" in runner.invoke(args=["comments", "import", str(latin)]).output
    assert comments_in_db() == []


def test_import_dry_run_changes_nothing(runner, db, publication, tmp_path):
    path = write(tmp_path, f"{ISBN},1,Jo,,,2012-06-14,Text.\n")
    result = runner.invoke(args=["comments", "import", str(path), "--dry-run"])
    assert result.exit_code == 0 and "Dry run: 1 comment on 1 publication would be imported" in result.output
    assert comments_in_db() == []


def test_import_without_optional_columns(runner, db, publication, tmp_path):
    path = write(tmp_path, f"{ISBN},9,Jo,2012-06-14,Text.\n", header="isbn,number,name,posted_at,text\n")
    assert runner.invoke(args=["comments", "import", str(path)]).exit_code == 0
    [comment] = comments_in_db()
    assert comment.job_title is None and comment.organisation is None


@pytest.mark.parametrize("text", ["2012-06-14", "2012-06-14 09:30", "14/06/2012 09:30", "2012-06-14T09:30:00+01:00"])
def test_import_reads_the_usual_ways_of_writing_a_date(runner, db, publication, tmp_path, text):
    path = write(tmp_path, f"{ISBN},1,Jo,,,{text},Text.\n")
    assert runner.invoke(args=["comments", "import", str(path)]).exit_code == 0
    assert db.session.scalar(select(func.count(Comment.id))) == 1
