"""The lifecycle in the book trade's codes and what follows from it, status by status: the page's
words and form, the catalogue card, the JSON-LD offer, the basket and the sitemap, all from
availability.offer(). Also: contributors and subjects on the page, search by a contributor's
name, and the page staying one statement, however much it shows."""

import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from shop.catalogue.availability import BACKORDER, BUY, NONE, NOTIFY, PREORDER, long_date, offer
from shop.catalogue.models import Publication
from shop.catalogue.rules import Contributor
from shop.timeutil import local_today
from tests.conftest import ISBN, count_queries, isbn13, make_publication

SOON = local_today() + timedelta(days=60)
LATER = local_today() + timedelta(days=90)


def page_of(client, isbn: str = ISBN) -> str:
    return html.unescape(client.get(f"/publications/{isbn}").get_data(as_text=True))


def structured_offer(page: str) -> dict:
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.DOTALL)
    return json.loads(block)["offers"]


def forms_on(page: str) -> list[str]:
    """Where the page's buying forms post (the readers' comment form at the foot is not one)."""
    return [action for action in re.findall(r'<form method="post" action="([^"]+)"', page)
            if not action.endswith("/comments")]


# status, availability, dates, stock, pdf -> action, button on the page, JSON-LD availability
CASES = {
    "forthcoming": (dict(publishing_status="02", availability="10", publication_date=SOON, year=SOON.year, stock=0),
                    PREORDER, "Pre-order", "PreOrder"),
    "not yet available": (dict(availability="10", publication_date=SOON, year=SOON.year, stock=0),
                          PREORDER, "Pre-order", "PreOrder"),
    "in stock": (dict(stock=12), BUY, "Add to basket", "InStock"),
    "print on demand, none on the shelf": (dict(availability="23", stock=0), BACKORDER, "Order now", "BackOrder"),
    "to order, none on the shelf": (dict(availability="22", stock=0), BACKORDER, "Order now", "BackOrder"),
    "reprinting": (dict(availability="32", expected_ship_date=SOON, stock=0), BACKORDER, "Order now", "BackOrder"),
    "out of stock with a date": (dict(availability="31", expected_ship_date=SOON, stock=0),
                                 BACKORDER, "Order now", "BackOrder"),
    "out of stock, no date": (dict(availability="31", stock=0), NOTIFY, "Notify me", "OutOfStock"),
    "in stock code, no copies": (dict(availability="21", stock=0), NOTIFY, "Notify me", "OutOfStock"),
    "out of print": (dict(publishing_status="07", availability="51", stock=0, pdf_url="https://example.org/r.pdf"),
                     NONE, None, "Discontinued"),
    "no longer supplied": (dict(availability="43", stock=5), NONE, None, "Discontinued"),
    "withdrawn by staff": (dict(on_sale=False, stock=5), NONE, None, "Discontinued"),
    "temporarily withdrawn, copies on the shelf": (dict(publishing_status="16", stock=5), NOTIFY, "Notify me", "OutOfStock"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_status_has_its_page_form_and_json_ld(client, db, case):
    fields, action, button, schema = CASES[case]
    publication = make_publication(**fields)
    assert offer(publication, local_today()).action == action
    page = page_of(client)
    data = structured_offer(page)
    assert data["availability"] == f"https://schema.org/{schema}"
    posts = forms_on(page)
    if action in (BUY, PREORDER, BACKORDER):
        assert posts == ["/basket/add"] and f">{button}</button>" in page
    elif action == NOTIFY:
        assert posts == ["/notify"] and ">Notify me</button>" in page
        assert 'name="csrf_token"' not in page  # no session needed, as for the basket form
    else:
        assert posts == [] and "£8.50" not in page  # nothing to buy, no price
    if action == PREORDER:
        assert f"Published on {long_date(SOON)}" in page
        assert data["availabilityStarts"] == SOON.isoformat()
    elif action == BACKORDER and fields.get("availability") in ("22", "23"):
        assert "Printed to order" in page and "availabilityStarts" not in data
    elif action == BACKORDER:
        assert f"ships from {long_date(SOON)}" in page
        assert data["availabilityStarts"] == SOON.isoformat()
    else:
        assert "availabilityStarts" not in data


def test_out_of_print_says_the_pdf_is_free(client, db):
    make_publication(publishing_status="07", availability="51", pdf_url="https://example.org/r.pdf")
    page = page_of(client)
    assert "Out of print in paper — the PDF is free." in page
    assert 'href="https://example.org/r.pdf"' in page
    make_publication(isbn=isbn13(1), publishing_status="07", availability="51", pdf_url=None)
    assert "the PDF is free" not in page_of(client, isbn13(1))


def test_reprinting_without_a_date_can_still_be_ordered(client, db):
    publication = make_publication(availability="32", stock=0)
    offered = offer(publication, local_today())
    assert offered.action == BACKORDER and offered.available_from is None
    assert "Reprinting: copies are due shortly" in page_of(client)


def test_a_preorder_keeps_its_words_honest_once_its_day_has_passed(db):
    publication = make_publication(publishing_status="02", availability="10", stock=0,
                                   publication_date=local_today() - timedelta(days=2))
    offered = offer(publication, local_today())
    assert offered.action == PREORDER and "Being published now" in offered.note


def test_catalogue_cards_say_what_each_title_offers(client, db):
    make_publication(isbn=isbn13(1), title="Alpha forthcoming", publishing_status="02", availability="10",
                     publication_date=SOON, year=SOON.year, stock=0)
    make_publication(isbn=isbn13(2), title="Beta reprinting", availability="32", expected_ship_date=SOON, stock=0)
    make_publication(isbn=isbn13(3), title="Gamma out of print", publishing_status="07", availability="51", stock=0)
    make_publication(isbn=isbn13(4), title="Delta in stock", stock=3)
    make_publication(isbn=isbn13(5), title="Epsilon out of stock", availability="31", stock=0)
    page = html.unescape(client.get("/").get_data(as_text=True))
    cards = dict(re.findall(r'<a href="/publications/\d+">([^<]+)</a>.*?<p class="stock [a-z]+">([^<]+)</p>', page, re.DOTALL))
    assert cards == {
        "Alpha forthcoming": f"Pre-order: published {long_date(SOON)}",
        "Beta reprinting": f"Order now: ships from {long_date(SOON)}",
        "Gamma out of print": "Out of print",
        "Delta in stock": "In stock",
        "Epsilon out of stock": "Out of stock",
    }


@pytest.mark.parametrize("fields, words", [
    (dict(availability="31", stock=0), "cannot be ordered now: out of stock"),
    (dict(publishing_status="07", availability="51", stock=0), "cannot be ordered now: out of print in paper"),
])
def test_the_basket_refuses_what_cannot_be_bought_with_the_offers_words(shopper, db, fields, words):
    make_publication(**fields)
    shopper.add(quantity=1)
    assert shopper.basket() == {}
    assert words in html.unescape(shopper.basket_page())


def test_a_preorder_goes_in_the_basket_whatever_the_stock_and_says_so(shopper, db):
    make_publication(publishing_status="02", availability="10", publication_date=SOON, year=SOON.year, stock=0)
    shopper.add(quantity=7)
    assert shopper.basket() == {ISBN: 7}
    page = html.unescape(shopper.basket_page())
    assert f"<strong>Pre-order.</strong> Published on {long_date(SOON)}" in page
    assert "posted in one parcel when every title in it has arrived" in page
    assert "disabled" not in page.split("Pay by card")[0].rsplit("<button", 1)[1]


def test_a_title_that_stops_being_orderable_blocks_checkout(shopper, db):
    publication = make_publication(availability="32", expected_ship_date=SOON, stock=0)
    shopper.add(quantity=1)
    db.session.execute(update(Publication).values(availability="51"))
    db.session.commit()
    assert "Out of print: please remove it." in html.unescape(shopper.basket_page())
    response = shopper.checkout()
    assert response.status_code == 303 and response.headers["Location"] == "/basket"
    assert publication.id  # the basket kept the line, for the reader to remove


def test_contributors_and_subjects_are_shown_and_marked_up(client, db):
    make_publication(
        contributors=(Contributor("A01", "Chris Ham"), Contributor("A01", "Nicola Walsh"),
                      Contributor("B01", "Anna Charles"), Contributor("A23", "Dame Jo Bloggs")),
        subjects=("MBP", "MBPM", "ZZQ9"),
    )
    page = page_of(client)
    assert "<dt>Authors</dt><dd>Chris Ham, Nicola Walsh</dd>" in page
    assert "<dt>Editor</dt><dd>Anna Charles</dd>" in page
    assert "<dt>Foreword by</dt><dd>Dame Jo Bloggs</dd>" in page
    assert "Health systems & services; Medical administration & management; Thema ZZQ9" in page
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.DOTALL)
    data = json.loads(block)
    assert data["author"] == [{"@type": "Person", "name": "Chris Ham"}, {"@type": "Person", "name": "Nicola Walsh"}]
    assert data["editor"] == [{"@type": "Person", "name": "Anna Charles"}]
    cards = html.unescape(client.get("/").get_data(as_text=True))
    assert "Authors: Chris Ham, Nicola Walsh; Editor: Anna Charles" in cards


def test_a_full_date_is_shown_and_published_in_json_ld(client, db):
    make_publication(publication_date=date(2012, 5, 14))
    page = page_of(client)
    assert "<dt>Published</dt><dd>14 May 2012</dd>" in page
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.DOTALL)
    assert json.loads(block)["datePublished"] == "2012-05-14"


@pytest.mark.parametrize("query", ["walsh", "Nicola", "ham leadership", "CHARLES"])
def test_search_finds_a_title_by_its_contributors_name(client, db, query):
    make_publication(contributors=(Contributor("A01", "Chris Ham"), Contributor("A01", "Nicola Walsh"),
                                   Contributor("B01", "Anna Charles")))
    make_publication(isbn=isbn13(1), title="Social care funding", subtitle=None)
    page = html.unescape(client.get("/", query_string={"q": query}).get_data(as_text=True))
    assert "1 publication matches" in page, query
    assert "Leadership and engagement" in page and "Social care funding" not in page


def test_role_codes_are_not_searchable_words(client, db):
    make_publication(contributors=(Contributor("B01", "Anna Charles"),))
    assert "0 publications match" in client.get("/?q=b01").get_data(as_text=True)


def test_a_changed_contributor_moves_the_catalogue_version(client, db):
    make_publication(contributors=(Contributor("A01", "Chris Ham"),))
    assert "1 publication matches" in client.get("/?q=ham").get_data(as_text=True)
    db.session.execute(update(Publication).values(contributors=(Contributor("A01", "Nicola Walsh"),)))
    db.session.commit()
    # The cached listing for "ham" was read at the old version: it is read again, and is empty.
    assert "0 publications match" in client.get("/?q=ham").get_data(as_text=True)
    assert "1 publication matches" in client.get("/?q=walsh").get_data(as_text=True)


def test_staff_search_finds_contributors_too(staff_client, db):
    make_publication(contributors=(Contributor("A01", "Nicola Walsh"),))
    page = staff_client.get("/staff/catalogue?q=walsh").get_data(as_text=True)
    assert "1 publication match" in page


def test_the_publication_page_stays_one_statement_with_everything_on_it(client, db):
    make_publication(
        publishing_status="02", availability="10", publication_date=SOON, year=SOON.year, stock=0,
        contributors=(Contributor("A01", "Chris Ham"), Contributor("B01", "Anna Charles")),
        subjects=("MBP",), pdf_url="https://example.org/r.pdf",
    )
    make_publication(isbn=isbn13(1), availability="31", stock=0)
    for isbn in (ISBN, isbn13(1)):
        with count_queries(db.engine) as first:
            assert client.get(f"/publications/{isbn}").status_code == 200
        with count_queries(db.engine) as again:
            assert client.get(f"/publications/{isbn}").status_code == 200
        # A first render reads the publication and its comments; a cached page, the publication.
        assert (first(), again()) == (2, 1), isbn
    client.get("/")
    with count_queries(db.engine) as listing:
        assert client.get("/").status_code == 200
    assert listing() == 1


def test_a_cached_page_changes_when_only_the_day_does(app, client, db, monkeypatch):
    """The row is the same, but a pre-order's words depend on the day: the offer is in the key."""
    from shop.catalogue import views

    make_publication(publishing_status="02", availability="10", publication_date=SOON, year=SOON.year, stock=0)
    assert f"Published on {long_date(SOON)}" in page_of(client)
    monkeypatch.setattr(views, "local_today", lambda: SOON + timedelta(days=1))
    assert "Being published now" in page_of(client)


def test_sitemap_follows_the_offer_days(client, db):
    past = local_today() - timedelta(days=3)
    make_publication(publishing_status="02", availability="10", publication_date=past, year=past.year, stock=0)
    make_publication(isbn=isbn13(1), title="Out of print but worth finding", publishing_status="07", availability="51")
    make_publication(isbn=isbn13(2), title="Withdrawn", on_sale=False)
    root = ET.fromstring(client.get("/sitemap.xml").data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns) for u in root.findall("s:url", ns)}
    assert f"http://shop.test/publications/{isbn13(1)}" in locs  # its page has the free PDF and the facts
    assert f"http://shop.test/publications/{isbn13(2)}" not in locs
    # Edited today, so today; a publication day still to come would not count.
    assert locs[f"http://shop.test/publications/{ISBN}"] == local_today().isoformat()


def test_last_changed_takes_a_lifecycle_day_that_has_come(db):
    from shop.catalogue.availability import last_changed

    publication = make_publication(publication_date=date(2026, 3, 1), year=2026, expected_ship_date=date(2026, 5, 1))
    assert last_changed(publication, date(2026, 1, 10), date(2026, 4, 1)) == date(2026, 3, 1)
    assert last_changed(publication, date(2026, 1, 10), date(2026, 6, 1)) == date(2026, 5, 1)
    assert last_changed(publication, date(2026, 7, 1), date(2026, 8, 1)) == date(2026, 7, 1)
