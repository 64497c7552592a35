"""`flask catalogue import/export`: CSV (all rows or none) and ONIX 3.0 (bad products skipped)."""

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shop.catalogue.imports import plan as plans
from shop.catalogue.imports.csv import COLUMNS
from shop.catalogue.imports.onix import read_onix
from shop.catalogue.models import CatalogueChange, Publication
from tests.conftest import ISBN, isbn13, make_publication

SAMPLES = Path(__file__).parent / "samples"
GOOD = {
    "isbn": isbn13(1),
    "title": "Social care funding explained",
    "subtitle": "",
    "publisher": "Health Policy Press",
    "year": "2021",
    "pages": "64",
    "price": "12.00",
    "stock": "30",
    "summary": "A plain guide.",
    "pdf_url": "",
    "cover": "",
}


def run(runner, db, *args):
    """Invoke ``flask catalogue …``; the test's session is fresh before and after."""
    db.session.rollback()
    result = runner.invoke(args=["catalogue", *map(str, args)])
    db.session.expire_all()
    return result


def catalogue(db) -> dict[str, Publication]:
    return {p.isbn: p for p in db.session.scalars(select(Publication))}


def write_rows(path: Path, rows: list[dict], columns=COLUMNS, encoding="utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows([row.get(column, "") for column in columns] for row in rows)
    return path


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def letter(column: str) -> str:
    return "ABCDEFGHIJK"[COLUMNS.index(column)]


# --- CSV ----------------------------------------------------------------------------------


def test_a_good_file_adds_and_updates(runner, db):
    make_publication()
    result = run(runner, db, "import", SAMPLES / "good.csv")
    assert result.exit_code == 0, result.output
    assert "2 added, 1 updated, 0 unchanged" in result.output
    books = catalogue(db)
    assert len(books) == 3
    # The file says 150 in stock; an existing title keeps its own count (see below).
    assert (books[ISBN].price_pence, books[ISBN].stock, books[ISBN].title) == (
        900,
        100,
        "Leadership and engagement for improvement in the NHS",
    )
    new = books[isbn13(1)]
    assert (new.price_pence, new.pages, new.year, new.subtitle) == (1200, 64, 2021, None)
    assert new.pdf_url == "https://example.org/social-care.pdf"
    assert new.cover_path == "health-policy/social-care.jpg"
    from_isbn10 = books[isbn13(2)]  # written as an ISBN-10 in the file
    assert from_isbn10.title == "Waiting times, 2010–2020"
    assert from_isbn10.subtitle == "A review of référral data"
    assert from_isbn10.summary == 'Why waits grew, and what "better" looks like.\nSecond paragraph.'
    assert (from_isbn10.price_pence, from_isbn10.stock) == (1550, 0)


def test_a_utf8_bom_and_missing_optional_columns_are_fine(runner, db, tmp_path):
    make_publication(pdf_url="https://example.org/kept.pdf")
    columns = [c for c in COLUMNS if c not in ("pdf_url", "cover")]
    row = {**GOOD, "isbn": ISBN, "title": "Leadership, revised £"}
    path = write_rows(tmp_path / "bom.csv", [row], columns, encoding="utf-8-sig")
    result = run(runner, db, "import", path)
    assert result.exit_code == 0, result.output
    assert catalogue(db)[ISBN].title == "Leadership, revised £"
    assert catalogue(db)[ISBN].pdf_url == "https://example.org/kept.pdf"  # no column, no change


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("price", "£8.50", "write it without the £ sign"),
        ("price", "8,50", "uses a comma"),
        ("price", "-1", "is negative"),
        ("price", "abc", "is not an amount in pounds and pence"),
        ("price", "0", "The price must be above £0.00."),
        ("price", "8.505", "is not an amount in pounds and pence"),
        ("pages", "0", "at least 1 page"),
        ("pages", "-12", "at least 1 page"),
        ("pages", "forty", "is not a whole number of pages"),
        ("year", "12", "is not a year of publication"),
        ("year", "20121", "is not a year of publication"),
        ("year", "3012", "Enter a year of publication from 1800 to"),
        ("stock", "-1", "Stock cannot be negative"),
        ("stock", "2.5", "is not a whole number"),
        ("isbn", "978-1-85717-640-8", "its check digit is wrong"),
        ("isbn", "12345", "'12345' is not an ISBN"),
        ("title", "", "Enter the title."),
        ("title", "x" * 301, "The title is 301 characters long; the most it may be is 300."),
        ("publisher", "", "Enter the publisher."),
        ("pdf_url", "ftp://example.org/report.pdf", "http:// or https://"),
        ("pdf_url", "javascript:alert(1)", "http:// or https://"),
        ("cover", "../../etc/passwd", "inside the covers folder"),
    ],
)
def test_each_bad_value_is_named_with_its_row_and_column(
    runner, db, tmp_path, column, value, message
):
    path = write_rows(tmp_path / "in.csv", [GOOD, {**GOOD, "isbn": isbn13(2), column: value}])
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert f"Row 3, column {letter(column)} ({column}): " in result.output
    assert message in result.output
    assert "nothing was imported" in result.output
    assert catalogue(db) == {}  # the good row 2 is not imported either


def test_a_file_not_in_utf8_says_how_to_save_it(runner, db, tmp_path):
    path = write_rows(tmp_path / "excel.csv", [{**GOOD, "summary": "Costs £12"}], encoding="cp1252")
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert "is not saved as UTF-8 (line 2" in result.output
    assert "CSV UTF-8" in result.output
    assert catalogue(db) == {}


def test_a_missing_column_is_named(runner, db, tmp_path):
    path = write_rows(tmp_path / "in.csv", [GOOD], [c for c in COLUMNS if c != "pages"])
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert "Row 1: the pages column is missing." in result.output


def test_an_unknown_column_is_named(runner, db, tmp_path):
    path = write_rows(tmp_path / "in.csv", [GOOD], [*COLUMNS, "colour"])
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(COLUMNS)]
    assert f"Row 1, column {letter}: 'colour' is not a column this import knows" in result.output


def test_the_same_book_twice_names_both_rows_even_as_isbn10_and_isbn13(runner, db, tmp_path):
    rows = [
        {**GOOD, "isbn": "9780000000026"},
        {**GOOD, "isbn": isbn13(3)},
        {**GOOD, "isbn": "0-00-000002-7"},
    ]
    result = run(runner, db, "import", write_rows(tmp_path / "in.csv", rows))
    assert result.exit_code != 0
    assert (
        "Row 4, column A (isbn): rows 2 and 4 are the same book, ISBN 978-0-00-000002-6"
        in result.output
    )
    assert catalogue(db) == {}


def test_every_error_is_reported_and_nothing_is_imported(runner, db):
    make_publication()
    result = run(runner, db, "import", SAMPLES / "bad.csv")
    assert result.exit_code != 0
    for where in [
        "Row 3, column A (isbn)",
        "Row 3, column B (title)",
        "Row 3, column E (year)",
        "Row 3, column F (pages)",
        "Row 3, column G (price)",
        "Row 3, column H (stock)",
        "Row 3, column J (pdf_url)",
        "Row 4, column F (pages)",
        "Row 4, column G (price)",
        "Row 4, column H (stock)",
    ]:
        assert where in result.output, where
    assert "10 problem(s) in bad.csv; nothing was imported." in result.output
    assert set(catalogue(db)) == {ISBN}  # row 2 was valid, and still not added
    assert catalogue(db)[ISBN].price_pence == 850


# --- size caps (finding 7: a 1,000,000-row CSV took 1.4 GB) ---------------------------------

def test_a_csv_file_over_the_byte_cap_is_refused_unread(app, runner, db, tmp_path):
    app.config["CATALOGUE_IMPORT_MAX_BYTES"] = 2000
    rows = [{**GOOD, "isbn": isbn13(n), "title": f"Title {n}"} for n in range(40)]
    path = write_rows(tmp_path / "big.csv", rows)
    assert path.stat().st_size > 2000
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert "big.csv is larger than 2 KB" in result.output and "nothing was imported" in result.output
    assert catalogue(db) == {}


def test_a_csv_file_over_the_row_cap_is_refused(app, runner, db, tmp_path):
    app.config["CATALOGUE_IMPORT_MAX_ROWS"] = 10
    path = write_rows(tmp_path / "many.csv", [{**GOOD, "isbn": isbn13(n)} for n in range(11)])
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert "many.csv has more than 10 rows" in result.output
    assert catalogue(db) == {}
    ten = write_rows(tmp_path / "ten.csv", [{**GOOD, "isbn": isbn13(n)} for n in range(10)])
    assert run(runner, db, "import", ten).exit_code == 0
    assert len(catalogue(db)) == 10


def test_only_the_first_errors_are_printed_with_a_count_of_the_rest(app, runner, db, tmp_path):
    app.config["CATALOGUE_IMPORT_ERRORS_SHOWN"] = 5
    path = write_rows(tmp_path / "bad.csv", [{**GOOD, "isbn": isbn13(n), "pages": "x"} for n in range(30)])
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert result.output.count("(pages): ") == 5
    assert "… and 25 more problems, not shown." in result.output
    assert "30 problem(s) in bad.csv; nothing was imported." in result.output


def test_an_onix_file_over_its_caps_is_refused(app, runner, db):
    app.config["CATALOGUE_ONIX_MAX_BYTES"] = 1000
    result = run(runner, db, "import", "--format", "onix", SAMPLES / "onix.xml")
    assert result.exit_code != 0 and "onix.xml is larger than" in result.output
    app.config["CATALOGUE_ONIX_MAX_BYTES"] = 1_000_000
    app.config["CATALOGUE_IMPORT_MAX_ROWS"] = 2
    result = run(runner, db, "import", "--format", "onix", SAMPLES / "onix.xml")
    assert result.exit_code != 0 and "onix.xml has more than 2 products" in result.output
    assert catalogue(db) == {}


def test_a_dry_run_lists_the_changes_and_changes_nothing(runner, db):
    make_publication()
    result = run(runner, db, "import", "--dry-run", SAMPLES / "good.csv")
    assert result.exit_code == 0, result.output
    assert f"update     {ISBN}" in result.output
    assert "price: £8.50 -> £9.00" in result.output
    assert "stock:" not in result.output  # stock of an existing title is never imported
    assert f"add        {isbn13(1)}  Social care funding explained" in result.output
    assert "Dry run: 2 to add, 1 to update, 0 unchanged. Nothing was changed." in result.output
    assert set(catalogue(db)) == {ISBN}
    assert catalogue(db)[ISBN].price_pence == 850


def test_export_then_import_is_a_no_op_and_an_edit_round_trips(runner, db, tmp_path):
    make_publication()
    make_publication(
        isbn=isbn13(5),
        title="Care homes, costs and “choice”",
        subtitle=None,
        price_pence=1005,
        summary="Line one,\nline two.",
        pdf_url="https://example.org/a.pdf",
        cover_path="c/a.jpg",
    )
    exported = tmp_path / "catalogue.csv"
    result = run(runner, db, "export", exported)
    assert result.exit_code == 0 and "Wrote 2 publication(s)" in result.output
    rows = read_rows(exported)
    assert [r["title"] for r in rows] == [
        "Care homes, costs and “choice”",
        "Leadership and engagement for improvement in the NHS",
    ]
    assert (rows[0]["price"], rows[0]["cover"], rows[1]["price"]) == ("10.05", "c/a.jpg", "8.50")

    again = run(runner, db, "import", "--dry-run", exported)
    assert "0 to add, 0 to update, 2 unchanged" in again.output, again.output

    rows[1]["price"] = "9.25"
    run(runner, db, "import", write_rows(tmp_path / "edited.csv", rows))
    run(runner, db, "export", tmp_path / "after.csv")
    after = read_rows(tmp_path / "after.csv")
    assert [r["price"] for r in after] == ["10.05", "9.25"]
    assert after[0] == rows[0]


def test_the_export_writes_no_formula_and_the_import_reads_it_back_unchanged(runner, db, tmp_path):
    """Finding 5: the catalogue export wrote formulas raw. Now every cell stays text in a
    spreadsheet, and importing the file undoes the defusing apostrophe."""
    from tests.staff.test_orders import runs_as_formula, spreadsheet_cells

    risky = {
        "title": "=HYPERLINK(\"http://evil.example\",\"x\")",
        "subtitle": "+44 and -1",
        "publisher": "@Press; =1+1",
        "summary": "'Tis a summary\t=2+2\n-3",
    }
    make_publication(**risky)
    make_publication(isbn=isbn13(9), title="'=already quoted", subtitle="'", summary="plain")
    exported = tmp_path / "catalogue.csv"
    assert run(runner, db, "export", exported).exit_code == 0
    text = exported.read_text(encoding="utf-8-sig")
    assert not [cell for cell in spreadsheet_cells(text) if runs_as_formula(cell)]
    rows = {row["isbn"]: row for row in read_rows(exported)}
    assert rows[ISBN]["title"].startswith("'=HYPERLINK")
    # A leading apostrophe before plain text is left alone; the formulas after a tab and a line
    # break are defused.
    assert rows[ISBN]["summary"] == "'Tis a summary\t'=2+2\n'-3"

    again = run(runner, db, "import", "--dry-run", exported)
    assert "0 to add, 0 to update, 2 unchanged" in again.output, again.output
    db.session.query(Publication).delete()
    db.session.commit()
    assert run(runner, db, "import", exported).exit_code == 0
    imported = catalogue(db)
    for name, value in risky.items():
        assert getattr(imported[ISBN], name) == value
    assert (imported[isbn13(9)].title, imported[isbn13(9)].subtitle) == ("'=already quoted", "'")


def test_defusing_is_undone_exactly():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from shop.spreadsheet import defuse, undo

    @given(st.text(alphabet=st.sampled_from(list("'=+-@ \t\r\na;,\"")) | st.characters(), max_size=12))
    @settings(max_examples=500, deadline=None)
    def round_trip(text):
        cell = defuse(text)
        assert undo(cell) == text
        for piece in re.split(r"[,;\t\r\n]", cell):  # however a spreadsheet splits it
            assert piece.lstrip().lstrip('"').lstrip()[:1] not in ("=", "+", "-", "@"), cell

    round_trip()


# --- ONIX ---------------------------------------------------------------------------------


def test_onix_imports_good_products_and_skips_those_without_gbp_price_or_pages(runner, db):
    result = run(runner, db, "import", "--format", "onix", SAMPLES / "onix.xml")
    assert result.exit_code == 1  # something was skipped
    assert (
        "Product 2 (ISBN 978-0-00-000004-0, record 'hpp-0004'): It has no GBP price"
        in result.output
    )
    assert (
        "Product 3 (ISBN 978-0-00-000005-7, record 'hpp-0005'): It has no page count"
        in result.output
    )
    assert "Imported onix.xml: 1 added, 0 updated, 0 unchanged." in result.output
    books = catalogue(db)
    assert set(books) == {isbn13(3)}
    book = books[isbn13(3)]
    assert (book.title, book.subtitle, book.publisher) == (
        "Integrated care in practice",
        "Lessons from five areas",
        "Health Policy Press",
    )
    assert (book.year, book.pages, book.price_pence, book.stock) == (2023, 96, 1999, 0)
    assert book.summary == "How five areas joined up health and social care."


def test_onix_without_a_namespace_updates_and_keeps_stock_and_summary(runner, db):
    make_publication(stock=100, summary="Our summary.")
    result = run(runner, db, "import", "--format", "onix", SAMPLES / "onix_plain.xml")
    assert result.exit_code == 0, result.output
    book = catalogue(db)[ISBN]
    assert (book.pages, book.price_pence) == (52, 950)  # ExtentType 11; header's default GBP
    assert (book.stock, book.summary) == (100, "Our summary.")


def test_onix_short_tags_and_the_format_from_the_suffix(runner, db):
    result = run(runner, db, "import", SAMPLES / "onix_short.xml")
    assert result.exit_code == 0, result.output
    book = catalogue(db)[isbn13(6)]
    assert (book.title, book.pages, book.price_pence, book.year) == (
        "The NHS workforce in numbers",
        36,
        600,
        2024,
    )


def test_onix_dry_run_changes_nothing(runner, db):
    make_publication()
    result = run(runner, db, "import", "--dry-run", "--format", "onix", SAMPLES / "onix_plain.xml")
    assert "pages: 48 -> 52" in result.output and "price: £8.50 -> £9.50" in result.output
    assert "Nothing was changed." in result.output
    assert (catalogue(db)[ISBN].pages, catalogue(db)[ISBN].price_pence) == (48, 850)


def product(isbn: str, reference: str, price: str = "8.50", notification: str = "03") -> str:
    """One ONIX product with everything the shop needs, in reference tags."""
    return f"""<Product><RecordReference>{reference}</RecordReference>
      <NotificationType>{notification}</NotificationType>
      <ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>{isbn}</IDValue>
      </ProductIdentifier>
      <DescriptiveDetail><TitleDetail><TitleType>01</TitleType><TitleElement>
        <TitleElementLevel>01</TitleElementLevel><TitleText>Title {reference}</TitleText>
      </TitleElement></TitleDetail>
      <Extent><ExtentType>00</ExtentType><ExtentValue>20</ExtentValue><ExtentUnit>03</ExtentUnit>
      </Extent></DescriptiveDetail>
      <PublishingDetail><Publisher><PublisherName>P</PublisherName></Publisher>
        <PublishingDate><PublishingDateRole>01</PublishingDateRole><Date>2020</Date>
      </PublishingDate></PublishingDetail>
      <ProductSupply><SupplyDetail><Price><PriceAmount>{price}</PriceAmount>
        <CurrencyCode>GBP</CurrencyCode></Price></SupplyDetail></ProductSupply></Product>"""


def test_onix_refuses_to_guess(tmp_path):
    path = tmp_path / "in.xml"
    path.write_text(
        '<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.1/reference">'
        + product(isbn13(1), "ok", price="8.5")
        + product(isbn13(2), "fraction", price="8.505")
        + product(isbn13(3), "twice-a")
        + product("0000000035", "twice-b")
        + product(isbn13(4), "deleted", notification="05")
        + product("9780000000048", "bad-check-digit")
        + product(isbn13(5), "free", price="0.00")
        + product(isbn13(6), "too-dear", price="10000.00")
        + "</ONIXMessage>"
    )
    plan = read_onix(path)
    assert [(r.isbn, r.fields["price_pence"]) for r in plan.records] == [(isbn13(1), 850)]
    skipped = "\n".join(plan.skipped)
    assert "record 'fraction'): Its GBP price '8.505' is not a whole number of pence" in skipped
    # The price's limits are the catalogue's rules (the staff form says the same words).
    assert "record 'free'): Its GBP price '0.00': The price must be above £0.00." in skipped
    assert "record 'too-dear'): Its GBP price '10000.00': That price is too large: the most is £9,999.99." in skipped
    assert "record 'deleted'): It is a delete notice" in skipped
    assert "'bad-check-digit'): Its ISBN-13: '9780000000048' is not an ISBN: its check" in skipped
    assert "Product 3 and Product 4 have the same ISBN 978-0-00-000003-3" in skipped


@pytest.mark.parametrize(
    "text, message",
    [
        ("<ONIXMessage><Product>", "is not well-formed XML"),
        ('<ONIXMessage release="2.1"><Product/></ONIXMessage>', "is not ONIX 3.0"),
        ('<x:ONIXMessage xmlns:x="http://www.editeur.org/onix/2.1/reference"/>', "is not ONIX 3.0"),
        ("<catalogue/>", "is not an ONIX message"),
    ],
)
def test_a_file_that_is_not_onix_3(runner, db, tmp_path, text, message):
    path = tmp_path / "in.xml"
    path.write_text(text)
    result = run(runner, db, "import", path)
    assert result.exit_code != 0 and message in result.output


def test_an_xxe_attempt_is_refused_and_never_expanded(runner, db):
    result = run(runner, db, "import", "--format", "onix", SAMPLES / "onix_xxe.xml")
    assert result.exit_code != 0
    assert "uses entity references (&xxe;), which this import never expands" in result.output
    assert "root:" not in result.output
    assert catalogue(db) == {}


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_no_entity_trick_leaks_a_local_file(runner, db, tmp_path, dry_run):
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-7f3a")
    (tmp_path / "evil.dtd").write_text(
        f'<!ENTITY % file SYSTEM "{secret.as_uri()}">'
        "<!ENTITY % wrap \"<!ENTITY leak '%file;'>\">%wrap;"
    )
    onix = product(isbn13(7), "xxe").replace("Title xxe", "&direct;").replace(">P<", ">&leak;<")
    path = tmp_path / "in.xml"
    path.write_text(
        f'<!DOCTYPE ONIXMessage [<!ENTITY direct SYSTEM "{secret.as_uri()}">'
        f'<!ENTITY % remote SYSTEM "{(tmp_path / "evil.dtd").as_uri()}">%remote;]>'
        f'<ONIXMessage release="3.0">{onix}</ONIXMessage>'
    )
    result = run(runner, db, "import", *dry_run, path)
    assert result.exit_code != 0
    assert "CANARY" not in result.output
    assert catalogue(db) == {}


def test_reimporting_never_undoes_copies_reserved_or_sold(runner, db, tmp_path):
    """Export, a customer reserves 5 copies, staff fix a price and import: the 5 stay taken."""
    from shop.catalogue import stock
    from shop.orders.models import OrderLine

    publication = make_publication(stock=100)
    exported = tmp_path / "catalogue.csv"
    assert runner.invoke(args=["catalogue", "export", str(exported)]).exit_code == 0
    stock.reserve([OrderLine(publication_id=publication.id, quantity=5, title="x", isbn=ISBN)])
    db.session.commit()
    exported.write_text(exported.read_text(encoding="utf-8-sig").replace("8.50", "9.50"), encoding="utf-8")
    assert runner.invoke(args=["catalogue", "import", str(exported)]).exit_code == 0
    book = catalogue(db)[ISBN]
    assert (book.price_pence, book.stock) == (950, 95)


# --- Imports write as staff edits do --------------------------------------------------------


def _history(db, isbn: str) -> list[CatalogueChange]:
    publication = db.session.scalar(select(Publication).filter_by(isbn=isbn))
    return list(db.session.scalars(
        select(CatalogueChange).filter_by(publication_id=publication.id).order_by(CatalogueChange.id)
    ))


def test_each_change_an_import_makes_is_in_the_titles_history_by_its_file(runner, db):
    make_publication()  # £8.50; good.csv says £9.00 (and changes nothing else this title keeps)
    assert run(runner, db, "import", SAMPLES / "good.csv").exit_code == 0
    [edited] = _history(db, ISBN)
    assert (edited.actor, edited.action) == ("import: good.csv", "edited")
    assert edited.before["price_pence"] == 850 and edited.after["price_pence"] == 900
    [created] = _history(db, isbn13(1))
    assert (created.actor, created.action) == ("import: good.csv", "created")
    assert created.after["price_pence"] == 1200


def a_colleague_saves_while_importing(monkeypatch, db, **values) -> None:
    """Between the import's compare and its writes, a colleague's edit of ISBN's ``values``
    commits, on a connection of its own."""
    compare = plans._changes

    def compare_then_a_colleague_saves(plan):
        found = compare(plan)
        with db.engine.begin() as colleague:
            colleague.execute(update(Publication).where(Publication.isbn == ISBN).values(**values))
        return found

    monkeypatch.setattr(plans, "_changes", compare_then_a_colleague_saves)


def test_a_title_changed_while_importing_rolls_the_whole_import_back(runner, db, monkeypatch):
    """The import compares, then writes only while each title still holds what it compared, as a
    staff edit does: a price a colleague saved in between wins, and nothing of the file lands."""
    make_publication()
    a_colleague_saves_while_importing(monkeypatch, db, price_pence=875)
    result = run(runner, db, "import", SAMPLES / "good.csv")
    assert result.exit_code == 1
    assert "was changed by someone else while importing, so nothing was imported. Run it again." in result.output
    books = catalogue(db)
    assert set(books) == {ISBN} and books[ISBN].price_pence == 875  # the colleague's price stands
    assert _history(db, ISBN) == []
