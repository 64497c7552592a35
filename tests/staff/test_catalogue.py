"""The staff catalogue: list, create, edit, withdraw and return, stock adjustments with their
audit trail, prices that never reach back into placed orders, and covers."""

import hashlib
import html
import io
import os
import re
from xml.etree import ElementTree

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import create_engine, event, insert, select, update

from shop.catalogue.models import CatalogueChange, Publication
from shop.orders.models import Order
from tests.conftest import (
    ISBN,
    STAFF_EMAIL,
    Shopper,
    count_queries,
    isbn13,
    make_publication,
    page_token,
    paid_order_through_stripe,
)

NEW = {
    "isbn": "978-1-85717-640-7",
    "title": "Leadership and engagement for improvement in the NHS",
    "subtitle": "Together we can",
    "publisher": "The King's Fund",
    "year": "2012",
    "pages": "48",
    "price": "8.50",
    "stock": "100",
    "summary": "Our summary.",
    "pdf_url": "https://www.kingsfund.org.uk/leadership.pdf",
}


def post(client, url: str, **data):
    data.setdefault("csrf_token", page_token(client, "/staff/catalogue"))
    return client.post(url, data=data)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def followed(client, response) -> str:
    """The page a 303 leads to, with the message it flashed."""
    assert response.status_code == 303, response.get_data(as_text=True)
    return text_of(client.get(response.headers["Location"]))


def reload(db, publication) -> Publication:
    db.session.expire_all()
    return db.session.get(Publication, publication.id)


def changes(db, publication) -> list[CatalogueChange]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(CatalogueChange)
            .where(CatalogueChange.publication_id == publication.id)
            .order_by(CatalogueChange.id)
        )
    )


def edit_data(publication: Publication, **overrides) -> dict:
    data = {
        "title": publication.title,
        "subtitle": publication.subtitle or "",
        "publisher": publication.publisher,
        "year": str(publication.year),
        "pages": str(publication.pages),
        "price": f"{publication.price_pence // 100}.{publication.price_pence % 100:02d}",
        "summary": publication.summary,
        "pdf_url": publication.pdf_url or "",
    }
    data.update(overrides)
    return data


# --- the list -------------------------------------------------------------------------------


def test_the_list_shows_every_title_withdrawn_ones_too(staff_client, db):
    make_publication()
    make_publication(isbn=isbn13(1), title="Withdrawn report", on_sale=False, stock=0)
    page = text_of(staff_client.get("/staff/catalogue"))
    for text in ["Leadership and engagement", "978-1-85717-640-7", "£8.50", "Withdrawn report", "Withdrawn", "2 publications"]:
        assert text in page, text
    assert f'href="/staff/catalogue/{ISBN}"' in page
    assert 'href="/staff/catalogue"' in text_of(staff_client.get("/staff"))  # in the staff nav
    assert staff_client.get("/staff/catalogue").headers["Cache-Control"] == "no-store"


def test_search_by_title_words_and_isbn(staff_client, db):
    make_publication()
    make_publication(isbn=isbn13(2), title="Social care funding explained", subtitle=None)

    def shown(query):
        page = text_of(staff_client.get("/staff/catalogue", query_string={"q": query}))
        return {title for title in ("Leadership and engagement", "Social care funding") if title in page}

    assert shown("nhs LEADERSHIP") == {"Leadership and engagement"}
    assert shown("funding") == {"Social care funding"}
    for isbn in ["9781857176407", "978-1-85717-640-7", "1857176405"]:
        assert shown(isbn) == {"Leadership and engagement"}, isbn
    assert shown("17640") == {"Leadership and engagement"}  # part of the ISBN
    assert shown("%") == set()  # LIKE wildcards are text
    page = text_of(staff_client.get("/staff/catalogue?q=978-1-85717-640-8"))
    assert "check digit is wrong" in page and "Leadership and engagement" not in page


def test_sort_by_title_isbn_and_stock(staff_client, db):
    make_publication(isbn=isbn13(30), title="Alpha", stock=50)
    make_publication(isbn=isbn13(10), title="Bravo", stock=5)
    make_publication(isbn=isbn13(20), title="Charlie", stock=500)

    def order(sort):
        page = staff_client.get(f"/staff/catalogue?sort={sort}").get_data(as_text=True)
        return sorted(["Alpha", "Bravo", "Charlie"], key=page.index)

    assert order("title") == ["Alpha", "Bravo", "Charlie"]
    assert order("isbn") == ["Bravo", "Charlie", "Alpha"]
    assert order("stock") == ["Bravo", "Alpha", "Charlie"]
    assert order("nonsense") == ["Alpha", "Bravo", "Charlie"]  # ignored, not an error


def test_the_list_is_paginated_and_keeps_the_search(app, staff_client, db):
    app.config["STAFF_CATALOGUE_PER_PAGE"] = 2
    for n in range(5):
        make_publication(isbn=isbn13(n), title=f"Report {n}")
    first = staff_client.get("/staff/catalogue?q=report&sort=isbn").get_data(as_text=True)
    assert "Page 1 of 3" in first and "Report 0" in first and "Report 2" not in first
    assert "/staff/catalogue?page=2&amp;q=report&amp;sort=isbn" in first
    last = staff_client.get("/staff/catalogue?q=report&sort=isbn&page=3").get_data(as_text=True)
    assert "Report 4" in last and "Report 3" not in last
    assert staff_client.get("/staff/catalogue?page=99999999999999999999").status_code == 200


def test_the_list_costs_the_same_queries_whatever_the_page_size(app, staff_client, db):
    for n in range(60):
        make_publication(isbn=isbn13(n), title=f"Report {n:02d}", on_sale=n % 3 != 0, stock=n)
    app.config["STAFF_CATALOGUE_PER_PAGE"] = 2
    db.session.remove()  # requests share the test's session; a server starts each one afresh
    with count_queries(db.engine) as small:
        assert staff_client.get("/staff/catalogue").status_code == 200
    app.config["STAFF_CATALOGUE_PER_PAGE"] = 50
    db.session.remove()
    with count_queries(db.engine) as large:
        page = staff_client.get("/staff/catalogue").get_data(as_text=True)
    assert page.count('href="/staff/catalogue/978') == 50
    assert large() == small() <= 3  # the signed-in user, the page and its count


# --- create -------------------------------------------------------------------------------


def test_create_a_publication(staff_client, client, db):
    response = post(staff_client, "/staff/catalogue/new", **NEW)
    assert response.headers["Location"] == f"/staff/catalogue/{ISBN}"
    page = followed(staff_client, response)
    assert "is in the catalogue and on sale" in page
    publication = db.session.scalar(select(Publication).filter_by(isbn=ISBN))
    assert (publication.price_pence, publication.stock, publication.pages, publication.year) == (850, 100, 48, 2012)
    assert publication.on_sale and publication.subtitle == "Together we can"
    assert publication.pdf_url == NEW["pdf_url"]
    [created] = changes(db, publication)
    assert (created.action, created.actor, created.before) == ("created", STAFF_EMAIL, None)
    assert created.after["price_pence"] == 850 and created.after["stock"] == 100 and created.after["isbn"] == ISBN
    assert "Added to the catalogue" in page
    assert "Leadership and engagement" in text_of(client.get("/"))


def test_the_new_form_accepts_isbn10_and_empty_optional_fields(staff_client, db):
    response = post(staff_client, "/staff/catalogue/new", **{**NEW, "isbn": "1-85717-640-5", "subtitle": " ", "pdf_url": "", "summary": "", "stock": "0", "price": "£12"})
    assert response.status_code == 303
    publication = db.session.scalar(select(Publication))
    assert (publication.isbn, publication.subtitle, publication.pdf_url, publication.stock, publication.price_pence) == (ISBN, None, None, 0, 1200)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("isbn", "", "Enter the ISBN."),
        ("isbn", "978-1-85717-640-8", "'978-1-85717-640-8' is not an ISBN: its check digit is wrong."),
        ("isbn", "12345", "'12345' is not an ISBN."),
        ("title", "   ", "Enter the title."),
        ("publisher", "", "Enter the publisher."),
        ("price", "", "Enter the price, such as 8.50."),
        ("price", "0", "The price must be above £0.00."),
        ("price", "0.00", "The price must be above £0.00."),
        ("price", "-1", "'-1' is negative: enter an amount above zero."),
        ("price", "8,50", "uses a comma"),
        ("price", "8.505", "is not an amount in pounds and pence"),
        ("price", "cheap", "is not an amount in pounds and pence"),
        ("pages", "0", "A publication has at least 1 page."),
        ("pages", "-3", "Enter the number of pages as a whole number, such as 48."),
        ("pages", "forty", "Enter the number of pages as a whole number, such as 48."),
        ("pages", "", "Enter the number of pages, such as 48."),
        ("stock", "-1", "Enter the copies in stock as a whole number, 0 or more."),
        ("stock", "2.5", "Enter the copies in stock as a whole number, 0 or more."),
        ("year", "1700", "Enter a year of publication from 1800 to"),
        ("year", "3000", "Enter a year of publication from 1800 to"),
        ("year", "12", "Enter a year of publication from 1800 to"),
        ("year", "twenty", "Enter the year of publication as four digits, such as 2012."),
        ("pdf_url", "ftp://example.org/a.pdf", "Enter a web address starting http:// or https://"),
        ("pdf_url", "javascript:alert(1)", "Enter a web address starting http:// or https://"),
        ("pdf_url", "www.example.org/a.pdf", "Enter a web address starting http:// or https://"),
    ],
)
def test_the_new_form_refuses_bad_input_with_a_message(staff_client, db, field, value, message):
    response = post(staff_client, "/staff/catalogue/new", **{**NEW, field: value})
    assert response.status_code == 422
    page = text_of(response)
    assert message in page
    assert f'href="#{field}"' in page  # the summary links to the field
    assert 'aria-invalid="true"' in page
    assert db.session.scalar(select(Publication)) is None
    assert db.session.scalar(select(CatalogueChange)) is None


def test_an_isbn_already_in_the_catalogue_is_refused(staff_client, db, publication):
    response = post(staff_client, "/staff/catalogue/new", **{**NEW, "isbn": "1857176405", "title": "A copy"})
    assert response.status_code == 422
    assert "ISBN 978-1-85717-640-7 is already in the catalogue, as “Leadership and engagement" in text_of(response)
    assert db.session.scalar(select(Publication).filter_by(title="A copy")) is None


def test_the_same_isbn_added_by_someone_else_meanwhile_gets_a_message_not_a_500(staff_client, db, database_url):
    """Two members of staff add one ISBN at the same moment: the other's row is committed over a
    connection of its own just after this request checked, so only the unique index can tell."""
    rival = create_engine(database_url)
    inserted = []

    def add_it_elsewhere(conn, cursor, statement, parameters, context, executemany):
        if not inserted and statement.lstrip().startswith("SELECT") and "publication.isbn =" in statement:
            with rival.begin() as other:
                other.execute(insert(Publication).values(
                    isbn=ISBN, title="Added elsewhere", publisher="The King's Fund", year=2012,
                    pages=48, price_pence=850, stock=5, on_sale=True))
            inserted.append(True)

    event.listen(db.engine, "after_cursor_execute", add_it_elsewhere)
    try:
        response = post(staff_client, "/staff/catalogue/new", **NEW)
    finally:
        event.remove(db.engine, "after_cursor_execute", add_it_elsewhere)
        rival.dispose()
    assert inserted
    assert response.status_code == 422
    page = text_of(response)
    assert "ISBN 978-1-85717-640-7 was added to the catalogue a moment ago (by someone else, or by a second click)" in page
    assert 'value="Leadership and engagement for improvement in the NHS"' in page  # what was typed stays
    db.session.expire_all()
    assert db.session.scalars(select(Publication.title).filter_by(isbn=ISBN)).all() == ["Added elsewhere"]
    assert db.session.scalar(select(CatalogueChange)) is None


# --- edit -----------------------------------------------------------------------------------


def test_the_edit_page_shows_the_form_filled_in(staff_client, publication):
    page = text_of(staff_client.get(f"/staff/catalogue/{ISBN}"))
    for text in ['value="8.50"', 'value="48"', 'value="2012"', "978-1-85717-640-7", "100 copies", "On sale", "Our summary."]:
        assert text in page, text
    assert 'name="stock"' not in page and 'name="isbn"' not in page
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # each label points at one field
    assert '="None"' not in page


def test_an_unknown_or_malformed_isbn_is_not_found(staff_client, publication):
    assert staff_client.get(f"/staff/catalogue/{isbn13(9)}").status_code == 404
    assert staff_client.get("/staff/catalogue/not-an-isbn").status_code == 404
    assert staff_client.get("/staff/catalogue/1-85717-640-5").status_code == 200


def test_edit_saves_and_records_only_what_changed(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    data = edit_data(publication, title="Leadership, revised", price="9.25", pdf_url="http://example.org/l.pdf")
    page = followed(staff_client, post(staff_client, url, **data))
    assert "Changes to “Leadership, revised” saved." in page
    publication = reload(db, publication)
    assert (publication.title, publication.price_pence, publication.pdf_url) == ("Leadership, revised", 925, "http://example.org/l.pdf")
    [edited] = changes(db, publication)
    assert edited.action == "edited" and edited.actor == STAFF_EMAIL
    assert edited.before == {"title": "Leadership and engagement for improvement in the NHS", "price_pence": 850, "pdf_url": None}
    assert edited.after == {"title": "Leadership, revised", "price_pence": 925, "pdf_url": "http://example.org/l.pdf"}
    assert "£8.50 → £9.25" in page  # the history on the edit page

    # Saving the same again (a textarea sends CRLF) records nothing.
    again = edit_data(publication, summary="Our summary.\r\n")
    assert "Nothing had changed" in followed(staff_client, post(staff_client, url, **again))
    assert len(changes(db, publication)) == 1


def test_edit_refuses_bad_input_and_changes_nothing(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    response = post(staff_client, url, **opened(staff_client, url), **edit_data(publication, title="", price="0"))
    assert response.status_code == 422
    page = text_of(response)
    assert started_from(page) == opened(staff_client, url)["started_from"]  # still what was first shown
    assert "Enter the title." in page and "The price must be above £0.00." in page
    assert "History" in page  # the rest of the page is still there
    assert reload(db, publication).price_pence == 850 and changes(db, publication) == []


def test_the_edit_form_cannot_overwrite_stock_a_checkout_reserved(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    token = page_token(staff_client, url)  # the form is open on a screen...
    # ...while a checkout reserves three copies.
    db.session.execute(update(Publication).where(Publication.id == publication.id).values(stock=97))
    db.session.commit()
    data = edit_data(publication, title="New title", stock="100", isbn=isbn13(5))
    assert post(staff_client, url, csrf_token=token, **data).status_code == 303
    publication = reload(db, publication)
    assert (publication.title, publication.stock, publication.isbn) == ("New title", 97, ISBN)


def opened(client, url: str) -> dict:
    """What an edit form carries from the moment it was opened: its token and fingerprint."""
    return {"csrf_token": page_token(client, url), "started_from": started_from(client.get(url).get_data(as_text=True))}


def started_from(page: str) -> str:
    tag = re.search(r'<input[^>]*name="started_from"[^>]*>', page).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def test_an_edit_keeps_what_someone_else_saved_meanwhile_in_the_fields_it_left_alone(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    as_opened = edit_data(publication)
    mine, theirs = opened(staff_client, url), opened(staff_client, url)  # two screens, one title
    assert post(staff_client, url, **theirs, **{**as_opened, "price": "9.00"}).status_code == 303
    page = followed(staff_client, post(staff_client, url, **mine, **{**as_opened, "title": "Typo fixed"}))
    assert "Changes to “Typo fixed” saved." in page
    publication = reload(db, publication)
    assert (publication.title, publication.price_pence) == ("Typo fixed", 900)  # not back to £8.50
    newest = changes(db, publication)[-1]
    assert (newest.before, newest.after) == ({"title": "Leadership and engagement for improvement in the NHS"}, {"title": "Typo fixed"})


def test_an_edit_of_a_field_someone_else_changed_meanwhile_saves_nothing_and_says_so(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    as_opened = edit_data(publication)
    mine, theirs = opened(staff_client, url), opened(staff_client, url)
    assert post(staff_client, url, **theirs, **{**as_opened, "price": "9.00"}).status_code == 303
    response = post(staff_client, url, **mine, **{**as_opened, "price": "8.75", "title": "Typo fixed"})
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else changed this publication while you were editing it, so nothing was saved." in page
    assert "Someone else changed this to “£9.00” while you were editing." in page
    assert 'href="#price"' in page and 'aria-invalid="true"' in page  # linked from the summary, marked
    assert 'value="8.75"' in page and 'value="Typo fixed"' in page  # what was typed stays in the form
    publication = reload(db, publication)
    assert (publication.title, publication.price_pence) == ("Leadership and engagement for improvement in the NHS", 900)
    assert len(changes(db, publication)) == 1

    # The form now starts from their save: sending it again is a deliberate overwrite.
    again = {"csrf_token": mine["csrf_token"], "started_from": started_from(page)}
    assert again["started_from"] != mine["started_from"]
    assert post(staff_client, url, **again, **{**as_opened, "price": "8.75", "title": "Typo fixed"}).status_code == 303
    publication = reload(db, publication)
    assert (publication.title, publication.price_pence) == ("Typo fixed", 875)


def test_saving_again_after_a_conflict_keeps_their_changes_to_the_other_fields(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    as_opened = edit_data(publication)
    mine, theirs = opened(staff_client, url), opened(staff_client, url)
    assert post(staff_client, url, **theirs, **{**as_opened, "title": "Their title", "price": "9.00"}).status_code == 303
    response = post(staff_client, url, **mine, **{**as_opened, "title": "My title"})
    assert response.status_code == 409
    page = text_of(response)
    assert "Changed by someone else while you were editing:" in page and "Please correct" not in page
    assert 'value="My title"' in page and 'value="9.00"' in page  # mine where I typed, theirs elsewhere
    again = {"csrf_token": mine["csrf_token"], "started_from": started_from(page)}
    as_shown = {**as_opened, "title": "My title", "price": "9.00"}  # the form as the 409 page shows it
    assert post(staff_client, url, **again, **as_shown).status_code == 303
    publication = reload(db, publication)
    assert (publication.title, publication.price_pence) == ("My title", 900)


def test_a_save_landing_between_the_comparison_and_the_write_is_not_overwritten(staff_client, db, database_url, publication):
    """Another save commits over its own connection just before this one writes (SQLite takes
    no lock on reading): the write is conditional on what was compared, so it goes round again
    and finds the clash."""
    url = f"/staff/catalogue/{ISBN}"
    mine = opened(staff_client, url)
    rival = create_engine(database_url)
    landed = []

    def save_elsewhere(conn, cursor, statement, parameters, context, executemany):
        if not landed and statement.lstrip().startswith("UPDATE publication SET"):
            with rival.begin() as other:
                other.execute(update(Publication).where(Publication.isbn == ISBN).values(price_pence=900))
            landed.append(True)

    event.listen(db.engine, "before_cursor_execute", save_elsewhere)
    try:
        response = post(staff_client, url, **mine, **edit_data(publication, price="8.75"))
    finally:
        event.remove(db.engine, "before_cursor_execute", save_elsewhere)
        rival.dispose()
    assert landed and response.status_code == 409
    assert "Someone else changed this to “£9.00” while you were editing." in text_of(response)
    assert reload(db, publication).price_pence == 900 and changes(db, publication) == []


def test_a_publication_that_keeps_changing_under_a_save_gets_a_message_not_a_500(staff_client, db, database_url, publication):
    if not database_url.startswith("postgresql"):
        pytest.skip("on SQLite the first conditional UPDATE takes the write lock: nobody can change it again")
    url = f"/staff/catalogue/{ISBN}"
    rival = create_engine(database_url)
    prices = iter(range(901, 999))

    def save_elsewhere_every_time(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("UPDATE publication SET"):
            with rival.begin() as other:
                other.execute(update(Publication).where(Publication.isbn == ISBN).values(price_pence=next(prices)))

    event.listen(db.engine, "before_cursor_execute", save_elsewhere_every_time)
    try:  # no fingerprint: every field that differs is written, so only the write's condition stops it
        response = post(staff_client, url, **edit_data(publication, price="8.75"))
    finally:
        event.remove(db.engine, "before_cursor_execute", save_elsewhere_every_time)
        rival.dispose()
    assert response.status_code == 409
    assert "This publication kept changing while saving, so nothing was saved." in text_of(response)
    assert reload(db, publication).price_pence == 903 and changes(db, publication) == []


def test_both_making_the_same_change_is_no_conflict(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}"
    as_opened = edit_data(publication)
    mine, theirs = opened(staff_client, url), opened(staff_client, url)
    assert post(staff_client, url, **theirs, **{**as_opened, "price": "9.00"}).status_code == 303
    assert "Nothing had changed" in followed(staff_client, post(staff_client, url, **mine, **{**as_opened, "price": "9.00"}))


@pytest.mark.parametrize("fingerprint", ["", "not-one-of-ours", "-" * 7])
def test_a_form_without_a_good_fingerprint_writes_every_field_that_differs(staff_client, db, publication, fingerprint):
    url = f"/staff/catalogue/{ISBN}"
    data = edit_data(publication, title="New title")
    db.session.execute(update(Publication).where(Publication.id == publication.id).values(price_pence=900))
    db.session.commit()
    assert post(staff_client, url, started_from=fingerprint, **data).status_code == 303
    publication = reload(db, publication)
    assert (publication.title, publication.price_pence) == ("New title", 850)


# --- withdraw and return --------------------------------------------------------------------


def test_withdraw_and_return_to_sale(staff_client, client, db, publication):
    shopper = Shopper(client)
    url = f"/staff/catalogue/{ISBN}"
    page = followed(staff_client, post(staff_client, url + "/withdraw", reason="Superseded by the 2026 edition"))
    assert "is withdrawn from sale" in page and "Withdrawn" in page
    assert not reload(db, publication).on_sale
    assert "Leadership and engagement" not in text_of(client.get("/"))
    assert "no longer on sale" in text_of(client.get(f"/publications/{ISBN}"))
    refused = shopper.add(quantity=1)
    assert "is not on sale" in followed(client, refused)
    assert shopper.basket() == {}

    again = followed(staff_client, post(staff_client, url + "/withdraw"))
    assert "is already withdrawn from sale" in again

    assert "is back on sale" in followed(staff_client, post(staff_client, url + "/return"))
    assert "Leadership and engagement" in text_of(client.get("/"))
    shopper.add(quantity=1)
    assert shopper.basket() == {ISBN: 1}

    withdrawn, returned = changes(db, publication)
    assert (withdrawn.action, withdrawn.before, withdrawn.after, withdrawn.reason, withdrawn.actor) == (
        "withdrawn", {"on_sale": True}, {"on_sale": False}, "Superseded by the 2026 edition", STAFF_EMAIL,
    )
    assert (returned.action, returned.after, returned.reason) == ("returned", {"on_sale": True}, None)


# --- stock ----------------------------------------------------------------------------------


def test_stock_adjustments_are_applied_and_audited(staff_client, db, publication):
    url = f"/staff/catalogue/{ISBN}/stock"
    assert "Goods in: stock of “Leadership and engagement for improvement in the NHS” went from 100 to 125." in followed(
        staff_client, post(staff_client, url, reason="goods_in", quantity="25")
    )
    assert "went from 125 to 122" in followed(staff_client, post(staff_client, url, reason="damaged", quantity="3"))
    assert "went from 122 to 40" in followed(staff_client, post(staff_client, url, reason="stock_count", quantity="40"))
    assert "went from 40 to 0" in followed(staff_client, post(staff_client, url, reason="damaged", quantity="40"))
    assert "went from 0 to 0" in followed(staff_client, post(staff_client, url, reason="stock_count", quantity="0"))
    assert reload(db, publication).stock == 0

    recorded = [(c.action, c.actor, c.reason, c.before, c.after) for c in changes(db, publication)]
    assert recorded == [
        ("stock", STAFF_EMAIL, "goods_in", {"stock": 100}, {"stock": 125}),
        ("stock", STAFF_EMAIL, "damaged", {"stock": 125}, {"stock": 122}),
        ("stock", STAFF_EMAIL, "stock_count", {"stock": 122}, {"stock": 40}),
        ("stock", STAFF_EMAIL, "damaged", {"stock": 40}, {"stock": 0}),
        ("stock", STAFF_EMAIL, "stock_count", {"stock": 0}, {"stock": 0}),
    ]
    page = text_of(staff_client.get(f"/staff/catalogue/{ISBN}"))
    assert "Stock: 122 → 40" in page and "Stock count" in page and "Damaged" in page


def test_stock_never_goes_below_zero(staff_client, db):
    publication = make_publication(stock=2)
    url = f"/staff/catalogue/{ISBN}/stock"
    page = followed(staff_client, post(staff_client, url, reason="damaged", quantity="3"))
    assert "Only 2 copies of “Leadership and engagement for improvement in the NHS” in stock: 3 cannot be taken away." in page
    assert reload(db, publication).stock == 2 and changes(db, publication) == []


@pytest.mark.parametrize(
    "reason, quantity, message",
    [
        ("goods_in", "0", "Enter from 1 to 1,000,000 copies."),
        ("damaged", "-2", "Enter the number of copies as a whole number, such as 10."),
        ("goods_in", "", "Enter the number of copies."),
        ("stock_count", "1000001", "A stock count is from 0 to 1,000,000 copies."),
        ("lost", "1", "Not a valid choice"),
    ],
)
def test_a_bad_stock_adjustment_changes_nothing(staff_client, db, publication, reason, quantity, message):
    page = followed(staff_client, post(staff_client, f"/staff/catalogue/{ISBN}/stock", reason=reason, quantity=quantity))
    assert message in page
    assert reload(db, publication).stock == 100 and changes(db, publication) == []


def test_a_damaged_adjustment_and_a_checkout_cannot_both_take_the_last_copy(staff_client, db):
    """The adjustment's UPDATE is conditional on the stock it finds, not on the stock the page showed."""
    from shop.catalogue.stock import reserve

    publication = make_publication(stock=1)
    token = page_token(staff_client, f"/staff/catalogue/{ISBN}")  # the page says 1 copy...

    class Line:
        publication_id, quantity, title, isbn = publication.id, 1, publication.title, ISBN

    reserve([Line()])  # ...then a checkout takes it
    db.session.commit()
    response = post(staff_client, f"/staff/catalogue/{ISBN}/stock", csrf_token=token, reason="damaged", quantity="1")
    assert "Only 0 copies" in followed(staff_client, response)
    assert reload(db, publication).stock == 0


# --- prices and orders ----------------------------------------------------------------------


def test_a_new_price_leaves_orders_already_placed_alone(staff_client, client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    assert [(line.unit_price_pence, line.quantity) for line in order.lines] == [(850, 2)]
    total, subtotal = order.total_pence, order.subtotal_pence

    post(staff_client, f"/staff/catalogue/{ISBN}", **edit_data(publication, price="12.00"))
    assert reload(db, publication).price_pence == 1200

    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert [line.unit_price_pence for line in order.lines] == [850]
    assert (order.total_pence, order.subtotal_pence) == (total, subtotal)
    order_page = text_of(staff_client.get(f"/staff/orders/{order.reference}"))
    assert "£8.50" in order_page and "£17.00" in order_page and "£12.00" not in order_page
    # New baskets pay the new price.
    another_customer = Shopper(client.application.test_client())
    another_customer.add(quantity=1)
    assert "£12.00" in another_customer.basket_page()


# --- covers ---------------------------------------------------------------------------------


@pytest.fixture
def covers_dir(app, tmp_path):
    folder = tmp_path / "covers"
    app.config["COVERS_DIR"] = str(folder)
    return folder


def image_bytes(kind: str, size=(60, 90), colour=(138, 21, 56), **save_options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=kind, **save_options)
    return out.getvalue()


def upload(client, data: bytes, filename: str):
    token = page_token(client, f"/staff/catalogue/{ISBN}")
    return client.post(
        f"/staff/catalogue/{ISBN}/cover",
        data={"csrf_token": token, "cover": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def exif_with_camera_and_place() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif[0x0131] = "Secret Editor 1.0"  # Software
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    return exif


def png_text() -> PngInfo:
    info = PngInfo()
    info.add_text("Author", "Secret author")
    return info


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Secret XMP</x:xmpmeta>'


@pytest.mark.parametrize(
    "kind, filename, mimetype, metadata",
    [
        ("PNG", "cover.png", "image/png", {"pnginfo": png_text()}),
        ("JPEG", "cover.jpg", "image/jpeg", {"comment": b"Secret comment", "xmp": XMP}),
        ("WEBP", "cover.webp", "image/webp", {"xmp": XMP}),
    ],
)
def test_a_cover_upload_is_checked_cleaned_stored_and_served(staff_client, client, db, publication, covers_dir, kind, filename, mimetype, metadata):
    original = image_bytes(kind, exif=exif_with_camera_and_place().tobytes(), **metadata)
    assert b"PhoneMaker" in original and b"Secret" in original
    page = followed(staff_client, upload(staff_client, original, filename))
    assert "New cover for “Leadership and engagement for improvement in the NHS” saved." in page
    extension = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}[kind]
    publication = reload(db, publication)
    stored_name = publication.cover_path
    assert re.fullmatch(ISBN + r"-[0-9a-f]{16}" + re.escape(extension), stored_name)
    stored = (covers_dir / stored_name).read_bytes()
    assert stored_name == f"{ISBN}-{hashlib.sha256(stored).hexdigest()[:16]}{extension}"  # by content
    assert b"PhoneMaker" not in stored and b"Secret" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == kind
        assert image.size == (90, 60)  # turned as the camera said, since the tag is gone
        assert not image.getexif()
    assert (publication.cover_width, publication.cover_height) == (90, 60)
    # Resized copies, never wider than the original, without the metadata either.
    copies = sorted(p.name for p in covers_dir.iterdir() if p.name != stored_name)
    assert copies == sorted(f"{stored_name[:-len(extension)]}-{w}.jpg" for w in (48, 80, 90))
    for name in copies:
        assert b"PhoneMaker" not in (covers_dir / name).read_bytes()
    [change] = changes(db, publication)
    assert (change.action, change.before, change.after, change.actor) == ("cover", {"cover_path": None}, {"cover_path": stored_name}, STAFF_EMAIL)

    response = client.get(f"/covers/{ISBN}")
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.data == stored
    assert "public" in response.headers["Cache-Control"] and "max-age=86400" in response.headers["Cache-Control"]
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert client.get(f"/covers/{ISBN}", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    copy = client.get(f"/covers/f/{copies[0]}")
    assert copy.status_code == 200 and copy.mimetype == "image/jpeg"
    assert "immutable" in copy.headers["Cache-Control"] and "max-age=31536000" in copy.headers["Cache-Control"]
    assert f'src="/covers/f/{stored_name[:-len(extension)]}-' in page


def test_a_new_cover_in_another_format_replaces_the_old_files(staff_client, db, publication, covers_dir):
    upload(staff_client, image_bytes("PNG"), "a.png")
    upload(staff_client, image_bytes("JPEG"), "b.jpg")
    stored = reload(db, publication).cover_path
    assert stored.endswith(".jpg")
    stem = stored[:-4]
    assert sorted(p.name for p in covers_dir.iterdir()) == sorted([stored, *(f"{stem}-{w}.jpg" for w in (48, 60))])


@pytest.mark.parametrize(
    "data, filename",
    [
        (b"This is a text file, not a picture.\n", "cover.png"),
        (image_bytes("GIF"), "cover.gif"),
        (image_bytes("BMP"), "cover.jpg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "cover.svg"),
        (image_bytes("PNG")[:60], "truncated.png"),
    ],
)
def test_a_file_that_is_not_a_jpeg_png_or_webp_is_refused(staff_client, db, publication, covers_dir, data, filename):
    page = followed(staff_client, upload(staff_client, data, filename))
    assert "That file is not a JPEG, PNG or WebP image" in page
    assert reload(db, publication).cover_path is None
    assert not covers_dir.exists() or not any(covers_dir.iterdir())
    assert changes(db, publication) == []


def test_a_cover_over_the_size_limit_is_refused(app, staff_client, db, publication, covers_dir):
    app.config["COVER_MAX_BYTES"] = 10 * 1024
    noisy = io.BytesIO()
    Image.frombytes("RGB", (100, 100), os.urandom(100 * 100 * 3)).save(noisy, format="PNG")
    assert len(noisy.getvalue()) > 10 * 1024
    page = followed(staff_client, upload(staff_client, noisy.getvalue(), "big.png"))
    assert "That file is larger than 10 KB, the most a cover can be." in page
    assert reload(db, publication).cover_path is None and not covers_dir.exists()


def test_a_cover_too_many_pixels_is_refused(staff_client, db, publication, covers_dir):
    huge = io.BytesIO()
    Image.new("1", (7000, 100)).save(huge, format="PNG")  # a small file, a wide image
    page = followed(staff_client, upload(staff_client, huge.getvalue(), "wide.png"))
    assert "That image is 7,000 × 100 pixels; a cover can be at most 6,000 pixels on each side." in page
    assert reload(db, publication).cover_path is None


def test_no_file_chosen(staff_client, publication, covers_dir):
    token = page_token(staff_client, f"/staff/catalogue/{ISBN}")
    response = staff_client.post(f"/staff/catalogue/{ISBN}/cover", data={"csrf_token": token}, content_type="multipart/form-data")
    assert "Choose an image file to upload." in followed(staff_client, response)


def test_without_a_cover_a_placeholder_with_the_title_escaped(client, db, covers_dir):
    title = '<script>alert("x")</script> & Sons\x01 ]]> "quoted"'
    make_publication(title=title, publisher="Fund & Co <Ltd>")
    response = client.get(f"/covers/{ISBN}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    body = response.get_data(as_text=True)
    assert "<script" not in body and "&lt;script&gt;" in body and "&amp; Sons" in body
    assert "Fund &amp; Co &lt;Ltd&gt;" in body
    tree = ElementTree.fromstring(body)  # well-formed XML
    texts = "".join(tree.itertext())
    assert "<script>" in texts and "]]>" in texts  # the title, as text
    assert "public" in response.headers["Cache-Control"] and "max-age=" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    assert client.get(f"/covers/{ISBN}", headers={"If-None-Match": etag}).status_code == 304


def test_a_long_title_is_wrapped_and_cut(client, db, covers_dir):
    make_publication(title=("Word " * 59).strip())  # 294 characters, the column holds 300
    tree = ElementTree.fromstring(client.get(f"/covers/{ISBN}").data)
    spans = [e for e in tree.iter() if e.tag.endswith("tspan")]
    assert 1 < len(spans) <= 7 and spans[-1].text.endswith("…")


def test_removing_a_cover_brings_back_the_placeholder(staff_client, client, db, publication, covers_dir):
    upload(staff_client, image_bytes("PNG"), "cover.png")
    assert client.get(f"/covers/{ISBN}").mimetype == "image/png"
    page = followed(staff_client, post(staff_client, f"/staff/catalogue/{ISBN}/cover/remove"))
    assert "now shows the plain placeholder cover" in page
    assert client.get(f"/covers/{ISBN}").mimetype == "image/svg+xml"
    assert [c.after for c in changes(db, publication)][-1] == {"cover_path": None}


def test_cover_addresses_that_are_not_ours(client, db, covers_dir):
    make_publication(cover_path="../../etc/passwd")
    assert client.get(f"/covers/{ISBN}").mimetype == "image/svg+xml"  # never outside the folder
    assert client.get(f"/covers/{isbn13(4)}").status_code == 404
    assert client.get("/covers/not-an-isbn").status_code == 404


def test_every_catalogue_action_is_behind_sign_in(client, publication):
    for url in [f"/staff/catalogue/{ISBN}/stock", f"/staff/catalogue/{ISBN}/withdraw", "/staff/catalogue/new"]:
        response = client.post(url, data={"csrf_token": page_token(client, "/staff/login"), "reason": "goods_in", "quantity": "5"})
        assert response.status_code == 401, url
    assert client.get("/staff/catalogue").headers["Location"].startswith("/staff/login")


# --- colour profiles (finding 7: arbitrary ICC profile bytes were kept) -----------------------

def swapped_primaries_profile() -> bytes:
    """A real ICC profile that is not sRGB: sRGB with its red and green primaries swapped, so a
    pixel stored as pure red means pure green."""
    import struct

    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    entries = {bytes(data[132 + 12 * i:136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    data[red + 4:red + 12], data[green + 4:green + 12] = data[green + 4:green + 12], data[red + 4:red + 12]
    return bytes(data)


def stored_file(covers_dir, extension):
    """The stored original (``<isbn>-<hash><extension>``; its resized copies end ``-<width>.jpg``)."""
    [path] = [p for p in covers_dir.glob(f"{ISBN}-*{extension}") if p.stem.count("-") == 1]
    return path


def stored_image(covers_dir, extension):
    image = Image.open(stored_file(covers_dir, extension))
    image.load()
    return image


def test_a_cover_in_another_colour_space_is_converted_to_srgb_and_keeps_no_profile(staff_client, db, publication, covers_dir):
    original = image_bytes("PNG", colour=(255, 0, 0), icc_profile=swapped_primaries_profile(),
                           exif=exif_with_camera_and_place().tobytes())
    upload(staff_client, original, "c.png")
    image = stored_image(covers_dir, ".png")
    assert "icc_profile" not in image.info and image.mode == "RGB"
    assert image.size == (90, 60)  # still turned as the camera said
    red, green, blue = image.getpixel((5, 5))
    assert green > 200 and red < 60 and blue < 60  # what the profile meant, in sRGB


@pytest.mark.parametrize("profile", [b"not a profile at all" * 20, b"\x00" * 300])
def test_arbitrary_profile_bytes_are_dropped(staff_client, db, publication, covers_dir, profile):
    upload(staff_client, image_bytes("JPEG", icc_profile=profile), "c.jpg")
    stored = stored_file(covers_dir, ".jpg").read_bytes()
    assert profile[:40] not in stored
    image = stored_image(covers_dir, ".jpg")
    assert "icc_profile" not in image.info and image.mode == "RGB"


def test_a_cmyk_jpeg_becomes_rgb(staff_client, db, publication, covers_dir):
    out = io.BytesIO()
    Image.new("CMYK", (60, 90), (0, 255, 255, 0)).save(out, format="JPEG")
    upload(staff_client, out.getvalue(), "c.jpg")
    image = stored_image(covers_dir, ".jpg")
    assert image.mode == "RGB" and "icc_profile" not in image.info
    red, green, blue = image.getpixel((5, 5))
    assert red > 200 and green < 80 and blue < 80  # cyan and yellow off, magenta and yellow on: red
