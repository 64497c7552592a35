"""The staff edit form's lifecycle: codes in words with the code beside, contributors and Thema
subjects, each problem on its field with what was typed kept, the history in words, and an edit
conflict on the new fields."""

import html
from datetime import date, timedelta

from sqlalchemy import update

from shop.catalogue.models import CatalogueChange, Publication
from shop.catalogue.rules import Contributor
from shop.timeutil import local_today
from tests.conftest import ISBN, edit_form, make_publication

PAGE = f"/staff/catalogue/{ISBN}"
SOON = local_today() + timedelta(days=50)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def reload(db) -> Publication:
    db.session.expire_all()
    return db.session.get(Publication, db.session.query(Publication.id).scalar())


def test_the_form_shows_the_codes_in_words_with_the_code_beside(staff_client, db):
    make_publication(availability="32", contributors=(Contributor("A01", "Chris Ham"), Contributor("B01", "Anna Charles")),
                     subjects=("MBP", "MBPM"), expected_ship_date=date(2027, 3, 1))
    page = text(staff_client.get(PAGE))
    assert '<option selected value="04">Active (04)</option>' in page
    assert '<option value="02">Forthcoming (02)</option>' in page
    assert '<option selected value="32">Reprinting (32)</option>' in page
    assert "Author (A01): Chris Ham\nEditor (B01): Anna Charles</textarea>" in page
    assert 'value="MBP; MBPM"' in page and 'value="2027-03-01"' in page and 'type="date"' in page
    assert "<li>Editor (B01)</li>" in page and "<li>Health systems & services (MBP)</li>" in page
    assert "Active (04); Reprinting (32)" in page  # the summary at the top


def test_saving_the_lifecycle_records_it_in_words(staff_client, db):
    make_publication()
    response = staff_client.post(PAGE, data=edit_form(
        staff_client, ISBN, publishing_status="02", availability="10", publication_date=SOON.isoformat(),
        year=str(SOON.year), contributors="Author: Chris Ham\r\nB01: Anna Charles", subjects="mbp, 1ddu-gb-e"))
    assert response.status_code == 303
    book = reload(db)
    assert (book.publishing_status, book.availability, book.publication_date) == ("02", "10", SOON)
    assert book.contributors == (Contributor("A01", "Chris Ham"), Contributor("B01", "Anna Charles"))
    assert book.subjects == ("MBP", "1DDU-GB-E")
    [change] = db.session.query(CatalogueChange).filter_by(action="edited").all()
    assert change.after["contributors"] == ["A01:Chris Ham", "B01:Anna Charles"]
    assert change.after["publication_date"] == SOON.isoformat()
    history = text(staff_client.get(PAGE))
    assert "Publishing status: Active (04) → Forthcoming (02)" in history
    assert "Contributors: — → A01:Chris Ham; B01:Anna Charles" in history
    # Saving the page again as it shows the values changes nothing.
    response = staff_client.post(PAGE, data=edit_form(staff_client, ISBN))
    assert "Nothing had changed" in text(staff_client.get(response.headers["Location"]))


def test_each_problem_is_on_its_field_and_what_was_typed_is_kept(staff_client, db):
    make_publication()
    response = staff_client.post(PAGE, data=edit_form(
        staff_client, ISBN, publication_date="1st March", contributors="Z99: Chris Ham", subjects="MBP;heal-th"))
    page = text(response)
    assert response.status_code == 422
    assert "Enter the publication date as a date, such as 2027-03-01, or leave it empty." in page
    assert "'Z99' (for Chris Ham) is not a contributor role this shop uses" in page
    assert "'HEAL-TH' is not a Thema code" in page
    assert 'href="#publication_date"' in page and 'href="#contributors"' in page
    assert "Z99: Chris Ham</textarea>" in page and 'value="MBP;heal-th"' in page
    assert reload(db).contributors == ()


def test_a_forthcoming_title_needs_its_date_and_the_year_must_agree(staff_client, db):
    make_publication()
    page = text(staff_client.post(PAGE, data=edit_form(staff_client, ISBN, publishing_status="02")))
    assert "A forthcoming title needs its publication date" in page
    page = text(staff_client.post(PAGE, data=edit_form(staff_client, ISBN, publication_date="2013-01-01")))
    assert "The publication date is in 2013 but the year of publication is 2012" in page
    assert reload(db).publishing_status == "04"


def test_someone_else_changing_the_contributors_meanwhile_is_a_conflict(staff_client, db):
    make_publication(contributors=(Contributor("A01", "Chris Ham"),))
    mine = edit_form(staff_client, ISBN, contributors="Author (A01): Chris Ham\nEditor (B01): Anna Charles")
    db.session.execute(update(Publication).values(contributors=(Contributor("A01", "Nicola Walsh"),)))
    db.session.commit()
    response = staff_client.post(PAGE, data=mine)
    page = text(response)
    assert response.status_code == 409
    assert "Someone else changed this to “Author (A01): Nicola Walsh”" in page
    assert reload(db).contributors == (Contributor("A01", "Nicola Walsh"),)
