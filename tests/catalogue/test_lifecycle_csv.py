"""The CSV import and export of the lifecycle columns: ONIX codes (or their words, or the "4"
a spreadsheet makes of "04"), dates, contributors as A01:Name;B01:Name and Thema subjects, each
problem named by row and column, and a lossless round trip."""

from dataclasses import asdict
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from shop.catalogue.admin import details_of
from shop.catalogue.imports.csv import COLUMNS
from shop.catalogue.models import Publication
from shop.catalogue.rules import Contributor
from shop.timeutil import local_today
from tests.catalogue.test_imports import GOOD, catalogue, read_rows, run, write_rows
from tests.conftest import ISBN, isbn13, make_publication

SOON = local_today() + timedelta(days=30)
LIFECYCLE = {
    "publishing_status": "02",
    "availability": "10",
    "publication_date": SOON.isoformat(),
    "expected_ship_date": "",
    "contributors": "A01:Chris Ham;Author (A01): Nicola Walsh; editor: Anna Charles",
    "subjects": "mbp; MBPM",
    "year": str(SOON.year),
}


def letter(column: str) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[COLUMNS.index(column)]


def test_the_new_columns_are_read(runner, db, tmp_path):
    path = write_rows(tmp_path / "in.csv", [{**GOOD, **LIFECYCLE}])
    result = run(runner, db, "import", path)
    assert result.exit_code == 0, result.output
    book = catalogue(db)[GOOD["isbn"]]
    assert (book.publishing_status, book.availability, book.publication_date, book.expected_ship_date) == (
        "02", "10", SOON, None)
    assert book.contributors == (Contributor("A01", "Chris Ham"), Contributor("A01", "Nicola Walsh"),
                                 Contributor("B01", "Anna Charles"))
    assert book.subjects == ("MBP", "MBPM")


def test_codes_as_a_spreadsheet_shows_them_or_in_words(runner, db, tmp_path):
    rows = [{**GOOD, "publishing_status": "4", "availability": "Reprinting", "expected_ship_date": "01/03/2027"}]
    assert run(runner, db, "import", write_rows(tmp_path / "in.csv", rows)).exit_code == 0
    book = catalogue(db)[GOOD["isbn"]]
    assert (book.publishing_status, book.availability, book.expected_ship_date) == ("04", "32", date(2027, 3, 1))


def test_blank_codes_keep_what_a_title_has_and_give_a_new_one_the_defaults(runner, db, tmp_path):
    make_publication(publishing_status="07", availability="51")
    rows = [{**GOOD, "isbn": ISBN}, {**GOOD, "isbn": isbn13(5)}]
    assert run(runner, db, "import", write_rows(tmp_path / "in.csv", rows)).exit_code == 0
    books = catalogue(db)
    assert (books[ISBN].publishing_status, books[ISBN].availability) == ("07", "51")
    assert (books[isbn13(5)].publishing_status, books[isbn13(5)].availability) == ("04", "21")


@pytest.mark.parametrize("column, value, message", [
    ("publishing_status", "99", "'99' is not a publishing status code from ONIX list 64"),
    ("availability", "In the warehouse", "is not a availability code from ONIX list 65"),
    ("publication_date", "next spring", "'next spring' is not a date: write it as 2027-03-01"),
    ("publication_date", "2027-02-30", "is not a date"),
    ("expected_ship_date", "1700-01-01", "Enter a date copies are expected from 1800"),
    ("contributors", "Chris Ham", "as the role, a colon and the name"),
    ("contributors", "Z99:Chris Ham", "'Z99' (for Chris Ham) is not a contributor role this shop uses"),
    ("contributors", "A01:Chris Ham;A01:chris ham", "is named twice as author"),
    ("subjects", "MBP;heal-th", "'HEAL-TH' is not a Thema code"),
    ("subjects", "MBP;MBP", "Each Thema subject code may appear once"),
])
def test_each_bad_value_is_named_by_row_and_column(runner, db, tmp_path, column, value, message):
    rows = [GOOD, {**GOOD, "isbn": isbn13(6), column: value}]
    result = run(runner, db, "import", write_rows(tmp_path / "in.csv", rows))
    assert result.exit_code != 0
    assert f"Row 3, column {letter(column)} ({column}): " in result.output, result.output
    assert message in result.output
    assert catalogue(db) == {}


def test_fields_that_must_agree_are_checked_across_the_row(runner, db, tmp_path):
    rows = [
        {**GOOD, "publishing_status": "02", "publication_date": ""},
        {**GOOD, "isbn": isbn13(7), "publication_date": "2020-01-01", "year": "2021"},
    ]
    result = run(runner, db, "import", write_rows(tmp_path / "in.csv", rows))
    assert result.exit_code != 0
    assert f"Row 2, column {letter('publication_date')} (publication_date): A forthcoming title needs its publication date" in result.output
    assert f"Row 3, column {letter('publication_date')} (publication_date): The publication date is in 2020 but the year of publication is 2021" in result.output


def test_export_writes_every_column_and_importing_it_changes_nothing(runner, db, tmp_path):
    make_publication(
        publishing_status="02", availability="10", publication_date=SOON, year=SOON.year,
        contributors=(Contributor("A01", "Zoë O'Brien"), Contributor("B01", "Anna Charles")),
        subjects=("MBP", "1DDU-GB-E"), stock=0,
    )
    make_publication(isbn=isbn13(1), availability="32", expected_ship_date=SOON, title="Reprint")
    before = {p.isbn: asdict(details_of(p)) for p in db.session.scalars(select(Publication))}
    path = tmp_path / "out.csv"
    assert run(runner, db, "export", path).exit_code == 0
    [forthcoming, reprint] = read_rows(path)  # by title
    assert forthcoming["contributors"] == "A01:Zoë O'Brien;B01:Anna Charles"
    assert (forthcoming["publishing_status"], forthcoming["availability"], forthcoming["subjects"]) == ("02", "10", "MBP;1DDU-GB-E")
    assert forthcoming["publication_date"] == SOON.isoformat() and reprint["expected_ship_date"] == SOON.isoformat()
    result = run(runner, db, "import", path)
    assert "0 added, 0 updated, 2 unchanged" in result.output
    db.session.execute(delete(Publication))
    db.session.commit()
    assert run(runner, db, "import", path).exit_code == 0
    after = {p.isbn: asdict(details_of(p)) for p in db.session.scalars(select(Publication))}
    assert after == before


def test_a_dry_run_shows_lifecycle_changes_in_words_staff_can_read(runner, db, tmp_path):
    make_publication()
    rows = [{**GOOD, "isbn": ISBN, "contributors": "A01:Chris Ham", "availability": "32"}]
    result = run(runner, db, "import", write_rows(tmp_path / "in.csv", rows), "--dry-run")
    assert "contributors: (empty) -> 'A01:Chris Ham'" in result.output
    assert "availability: '21' -> '32'" in result.output
