"""A worker's catalogue listings (ordered ids per search) and the catalogue version that says
when they no longer hold (migration 0010's triggers)."""

import html
import re
from array import array

from sqlalchemy import insert, text, update

from shop.catalogue.models import Publication
from shop.catalogue.search import LISTINGS, Listing, Listings
from tests.conftest import count_queries, isbn13, make_publication


def version(db) -> int:
    return db.session.scalar(text("SELECT version FROM catalogue_version"))


def titles_on(client, path: str) -> list[str]:
    page = html.unescape(client.get(path).get_data(as_text=True))
    return re.findall(r"(Report \d\d)", page)


def test_only_changes_to_the_listing_move_the_version(db, publication):
    start = version(db)
    db.session.execute(update(Publication).values(stock=3, price_pence=1200))
    db.session.commit()
    assert version(db) == start  # price and stock are read fresh with every page
    # An ISBN too: a listing cached for a search by the old ISBN must not outlive it.
    for change in ({"title": "Retitled"}, {"subtitle": None}, {"on_sale": False}, {"isbn": isbn13(9)}):
        before = version(db)
        db.session.execute(update(Publication).values(**change))
        db.session.commit()
        assert version(db) != before, change
    before = version(db)
    make_publication(isbn=isbn13(7), title="Another")
    assert version(db) != before
    before = version(db)
    db.session.delete(publication)
    db.session.commit()
    assert version(db) != before


def test_a_rolled_back_change_leaves_the_version(db, publication):
    before = version(db)
    db.session.execute(update(Publication).values(title="Never"))
    db.session.rollback()
    assert version(db) == before


def test_deep_pages_follow_changes_made_by_another_worker(client, app, db):
    app.config["CATALOGUE_PAGE_SIZE"] = 5
    for n in range(12):
        make_publication(isbn=isbn13(100 + n), title=f"Report {n:02d}")
    assert titles_on(client, "/?page=3") == ["Report 10", "Report 11"]
    # Statements this worker's ORM never sees, as from another worker or a bulk edit.
    db.session.execute(update(Publication).where(Publication.title == "Report 00").values(on_sale=False))
    db.session.execute(
        insert(Publication).values(isbn=isbn13(200), title="Report 05b", year=2024, pages=10,
                                   price_pence=500, publisher="The King's Fund")
    )
    db.session.commit()
    with count_queries(db.engine) as reads:
        page_3 = titles_on(client, "/?page=3")
    assert page_3 == ["Report 10", "Report 11"]  # 00 went, 05b came: 12 again
    assert reads() == 3  # the page (version moved), the listing again, the page
    page_2 = html.unescape(client.get("/?page=2").get_data(as_text=True))
    assert re.findall(r"(Report \d\db?)", page_2) == ["Report 05b", "Report 06", "Report 07", "Report 08", "Report 09"]
    assert "Page 2 of 3" in page_2


def test_a_search_listing_is_read_again_when_a_title_changes(client, db, publication):
    assert "1 publication matches" in client.get("/?q=leadership").get_data(as_text=True)
    with count_queries(db.engine) as reads:
        client.get("/?q=leadership")
    assert reads() == 1
    db.session.execute(update(Publication).values(title="Workforce planning"))
    db.session.commit()
    assert "0 publications match" in client.get("/?q=leadership").get_data(as_text=True)


def test_listings_hold_a_bounded_number_of_ids_least_recently_used_out():
    listings = Listings(max_ids=10)

    def listing(size: int) -> Listing:
        return Listing(version=1, ids=array("q", range(size)), message=None)

    listings.put("a", listing(4))
    listings.put("b", listing(4))
    assert listings.get("a") is not None  # "b" is now the least recently used
    listings.put("c", listing(4))
    assert listings.get("b") is None and listings.get("a") is not None and listings.get("c") is not None
    listings.put("huge", listing(11))  # bigger than the whole budget: not kept
    assert listings.get("huge") is None and len(listings) == 2
    listings.put("a", listing(6))  # replacing an entry releases the old one's ids
    assert listings.get("a").ids == array("q", range(6)) and listings.get("c") is not None


def test_the_app_keeps_one_listing_per_search(client, app, publication):
    client.get("/")
    client.get("/?page=2")
    client.get("/?q=leadership")
    assert len(app.extensions[LISTINGS]) == 2


def test_a_listing_cached_for_an_isbn_search_does_not_outlive_the_isbn(client, db, publication):
    assert "1 publication matches" in client.get("/?q=978-1-85717-640-7").get_data(as_text=True)
    db.session.execute(update(Publication).values(isbn=isbn13(5)))
    db.session.commit()
    assert "0 publications match" in client.get("/?q=978-1-85717-640-7").get_data(as_text=True)
