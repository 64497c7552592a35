import html

from tests.conftest import ISBN, count_queries, isbn13, make_publication


def test_catalogue_lists_what_a_buyer_needs(client, publication):
    page = client.get("/").get_data(as_text=True)
    assert "Leadership and engagement for improvement in the NHS" in page
    assert "£8.50" in page
    assert "48 pages" in page
    assert "978-1-85717-640-7" in page
    assert "2012" in page
    assert "In stock" in page
    assert f'href="/publications/{ISBN}"' in page


def test_out_of_stock_and_withdrawn_titles(client, db):
    make_publication(stock=0)
    make_publication(isbn=isbn13(1), title="Withdrawn report", on_sale=False)
    page = client.get("/").get_data(as_text=True)
    assert "Out of stock" in page
    assert "Withdrawn report" not in page


def test_search_by_title_words_in_any_order_and_case(client, db):
    make_publication()
    make_publication(isbn=isbn13(2), title="Social care funding explained", subtitle=None)
    page = client.get("/?q=nhs+LEADERSHIP").get_data(as_text=True)
    assert "Leadership and engagement" in page
    assert "Social care funding" not in page
    assert "1 publication matches" in page


def test_search_treats_like_wildcards_as_text(client, publication):
    page = client.get("/?q=%25").get_data(as_text=True)
    assert "0 publications match" in page


def test_search_by_isbn_in_every_form(client, db):
    make_publication()
    make_publication(isbn=isbn13(3), title="Another report")
    for query in ["9781857176407", "978-1-85717-640-7", "978 1 85717 640 7", "1857176405", "1-85717-640-5"]:
        page = client.get("/", query_string={"q": query}).get_data(as_text=True)
        assert "Leadership and engagement" in page, query
        assert "Another report" not in page, query


def test_search_with_a_wrong_check_digit_explains(client, publication):
    page = client.get("/?q=978-1-85717-640-8").get_data(as_text=True)
    assert "check digit is wrong" in page
    assert "Leadership and engagement" not in page


def test_publication_page_shows_the_details_and_a_form(client, publication):
    response = client.get(f"/publications/{ISBN}")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    for text in ["Together we can", "The King's Fund", "2012", "Our summary.", "£8.50", "48 pages", "978-1-85717-640-7", "Add to basket"]:
        assert text in page, text
    assert 'name="quantity"' in page and 'value="1"' in page
    assert 'name="csrf_token"' not in page  # guarded by the cross-origin check; no session needed
    assert f'<link rel="canonical" href="http://shop.test/publications/{ISBN}">' in page


def test_other_isbn_forms_redirect_permanently_to_the_13_digits(client, publication):
    for form in ["978-1-85717-640-7", "978 1 85717 640 7", "1857176405", "1-85717-640-5"]:
        response = client.get(f"/publications/{form}")
        assert response.status_code == 301, form
        assert response.headers["Location"] == f"/publications/{ISBN}"


def test_invalid_isbn_is_a_helpful_404(client, publication):
    for bad in ["978-1-85717-640-8", "hello", "123", "<script>alert(1)</script>"]:
        response = client.get(f"/publications/{bad}")
        page = response.get_data(as_text=True)
        assert response.status_code == 404, bad
        assert "not an ISBN" in page
        assert "search the catalogue" in page.lower()
        assert "<script>alert(1)</script>" not in page
        assert "Traceback" not in page


def test_valid_isbn_not_in_catalogue_is_404(client, publication):
    response = client.get(f"/publications/{isbn13(9)}")
    assert response.status_code == 404
    assert "We have no publication with ISBN" in response.get_data(as_text=True)


def test_catalogue_and_publication_queries_do_not_grow_with_publications(client, db):
    make_publication()
    with count_queries(db.engine) as few_first:
        assert client.get("/").status_code == 200
    with count_queries(db.engine) as few_again:
        assert client.get("/").status_code == 200
    with count_queries(db.engine) as one_page:
        assert client.get(f"/publications/{ISBN}").status_code == 200
    for n in range(40):
        make_publication(isbn=isbn13(100 + n), title=f"Report {n:02d}")
    with count_queries(db.engine) as many_first:
        assert client.get("/").status_code == 200
    with count_queries(db.engine) as many_again:
        assert client.get("/?page=2").status_code == 200
    with count_queries(db.engine) as one_page_later:
        assert client.get(f"/publications/{ISBN}").status_code == 200
    # A page is one query while this worker's listing is current (any page: the listing holds
    # the ids); reading the listing is one more, and finding it out of date one more again.
    assert few_first() == 2 and few_again() == 1
    assert many_first() == 3 and many_again() == 1
    # The publication page reads its row, and on a first render its comments (shop.comments);
    # after that the row alone, for the page cache's key.
    assert one_page() == 2 and one_page_later() == 1


def test_a_new_publication_shows_in_the_total_at_once(client, db):
    for n in range(25):
        make_publication(isbn=isbn13(100 + n), title=f"Report {n:02d}")
    assert "Page 1 of 2" in client.get("/").get_data(as_text=True)
    for n in range(20):
        make_publication(isbn=isbn13(200 + n), title=f"Zebra report {n:02d}")
    # The insert bumped the catalogue version (migration 0010's triggers), on every worker.
    assert "Page 1 of 3" in client.get("/").get_data(as_text=True)


def test_catalogue_is_paginated(client, db):
    for n in range(25):
        make_publication(isbn=isbn13(200 + n), title=f"Report {n:02d}")
    first = client.get("/").get_data(as_text=True)
    second = client.get("/?page=2").get_data(as_text=True)
    assert "Report 00" in first and "Report 19" in first and "Report 20" not in first
    assert "Report 20" in second and "Page 2 of 2" in second
    assert client.get("/?page=abc").status_code == 200


def test_a_page_beyond_the_last_says_so_and_links_to_the_last(client, db):
    for n in range(25):
        make_publication(isbn=isbn13(200 + n), title=f"Report {n:02d}")
    response = client.get("/?page=99")
    page = response.get_data(as_text=True)
    assert response.status_code == 404  # so that no search engine keeps it
    assert "There is no page 99: this list has 2 pages." in page
    assert 'href="/?page=2">Go to the last page, page 2</a>' in page
    assert "Page 99 of" not in page and 'rel="prev"' not in page  # no link to page 98, another 404
    assert "Set-Cookie" not in response.headers
    searched = client.get("/?q=report&page=7").get_data(as_text=True)
    assert 'href="/?q=report&amp;page=2"' in searched and "publications match" not in searched
    # A search with one page of results, and an empty catalogue, link to page 1.
    assert 'href="/?q=Report+01">Go to page 1' in client.get("/?q=Report 01&page=3").get_data(as_text=True)


def test_health_check_answers_when_the_database_does(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_search_matches_parts_of_words_in_title_or_subtitle_in_any_case(client, db):
    make_publication()  # "Leadership and engagement for improvement in the NHS: Together we can"
    make_publication(isbn=isbn13(4), title="Évaluation des soins", subtitle="Étude de cas")
    make_publication(isbn=isbn13(5), title="Social care funding explained", subtitle=None)
    for query, expected in [
        ("GAGEMENT", "Leadership and engagement"),  # inside a word, any case
        ("together leader", "Leadership and engagement"),  # one word from each of the two
        ("évaluation", "Évaluation des soins"),  # not only ASCII: é and É are one letter
        ("ÉTUDE", "Évaluation des soins"),
        ("in NHS", "Leadership and engagement"),  # a two-letter word too (too short to index)
    ]:
        page = html.unescape(client.get("/", query_string={"q": query}).get_data(as_text=True))
        assert expected in page, query
        assert "1 publication matches" in page, query


def test_search_text_is_never_query_syntax(client, publication):
    # FTS5 operators, quotes and brackets are just characters of a word: no error, no match.
    for query in ['"', 'leader"ship', "NHS AND NOT care", "lead*", "title:NHS", "(nhs", "NEAR(a b)", "'; --"]:
        response = client.get("/", query_string={"q": query})
        assert response.status_code == 200, query
        page = html.unescape(response.get_data(as_text=True))
        if query == "NHS AND NOT care":  # three words, each must appear: "not" does not
            assert "0 publications match" in page
    assert "1 publication matches" in client.get("/?q=nhs+and").get_data(as_text=True)


def test_search_follows_a_retitled_publication(client, db, publication):
    publication.title = "Renamed report on workforce planning"
    db.session.commit()
    assert "1 publication matches" in client.get("/?q=workforce").get_data(as_text=True)
    assert "0 publications match" in client.get("/?q=leadership").get_data(as_text=True)


def test_a_new_reader_sees_changes_at_once_though_pages_are_reused(client, app, db, publication):
    from sqlalchemy import update

    from shop.catalogue.models import Publication
    from shop.web.pagecache import EXTENSION

    first = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "£8.50" in first and len(app.extensions[EXTENSION]) == 1
    assert client.get(f"/publications/{ISBN}").get_data(as_text=True) == first  # the same page
    # A change made behind the ORM's back (another worker, or a bulk UPDATE) is still seen: the
    # cached page is keyed by the row the request read.
    db.session.execute(update(Publication).values(price_pence=999, stock=0))
    db.session.commit()
    for path in (f"/publications/{ISBN}", "/"):
        page = client.get(path).get_data(as_text=True)
        assert "£9.99" in page and "Out of stock" in page and "£8.50" not in page, path


def test_a_cached_publication_page_is_served_from_a_plain_row(client, app, db, publication):
    """The speed-up in shop.catalogue.queries.row_by_isbn: a page served from the cache makes
    no ORM object and runs one statement; a render makes its object from that same row, without
    reading the publication again."""
    from sqlalchemy import event

    from shop.catalogue.models import Publication

    loaded, statements = [], []

    def on_load(target, context):
        loaded.append(target)

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(Publication, "load", on_load)
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        db.session.expunge_all()  # as in a server, where each request starts a new session
        first = client.get(f"/publications/{ISBN}")
        rendered, statements[:], loaded[:] = list(statements), [], []
        db.session.expunge_all()
        again = client.get(f"/publications/{ISBN}")
    finally:
        event.remove(Publication, "load", on_load)
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert first.status_code == again.status_code == 200
    assert first.get_data() == again.get_data() and "£8.50" in again.get_data(as_text=True)
    assert len(statements) == 1 and loaded == []
    reads_of_the_row = [sql for sql in rendered if "FROM publication" in sql]
    assert len(reads_of_the_row) == 1, rendered


def test_a_reader_with_a_basket_gets_their_own_page(shopper, client, app, publication):
    from shop.web.pagecache import EXTENSION

    client.get(f"/publications/{ISBN}")
    shopper.add(quantity=2)
    page = client.get(f"/publications/{ISBN}")
    assert "(2 copies)" in page.get_data(as_text=True)  # their basket in the header
    assert "Cookie" in page.headers["Vary"]
    client.delete_cookie("session")
    anonymous = client.get(f"/publications/{ISBN}")
    assert "copies)" not in anonymous.get_data(as_text=True) and "Set-Cookie" not in anonymous.headers
    assert "Cookie" in anonymous.headers["Vary"]
    assert len(app.extensions[EXTENSION]) == 1


def test_postgresql_answers_a_search_from_one_trigram_index(app, db, publication):
    # The query's expression must be the index's (migration 0016) to the character, or the
    # planner reads every title. With sequential scans off, only a matching index can serve it.
    import pytest
    from sqlalchemy import select, text

    from shop.catalogue.models import Publication
    from shop.catalogue.search import title_words

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's trigram index; SQLite's FTS5 index is exercised by the search tests")
    statement = select(Publication.id).where(title_words(["leadership", "together"]))
    compiled = statement.compile(db.engine)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
    assert "ix_publication_search_text_trgm" in plan, plan
    assert db.session.scalars(statement).all() == [publication.id]


def test_a_wrong_check_digit_gets_the_same_help_as_other_empty_searches(client, publication):
    help_text = "No publications match. Try fewer words, or an ISBN such as 978-1-85717-640-7."
    assert help_text in client.get("/?q=zzzz").get_data(as_text=True)
    page = client.get("/?q=978-1-85717-640-8").get_data(as_text=True)
    assert "check digit is wrong" in page and help_text in page


def test_a_withdrawn_title_no_longer_offers_a_print_copy(client, db):
    make_publication(on_sale=False)
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "Buy a print copy" not in page and "Add to basket" not in page
    assert "This publication is no longer on sale in print." in page
    assert "<h2 id=\"buy-heading\">Print copies</h2>" in page


def test_a_summary_keeps_its_paragraphs_and_lists_safely(client, db):
    make_publication(summary=(
        "First paragraph,\nwith a line break.\n\nSecond <script>alert('x')</script> paragraph.\n\n"
        "- one point\n- *another* point\n\n<img src=x onerror=alert(1)> [link](javascript:alert(1))"
    ))
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    summary = page[page.index('<div class="summary">'):page.index('<section class="buy"')]
    assert "<p>First paragraph,<br>\nwith a line break.</p>" in summary
    assert "<p>Second &lt;script&gt;alert('x')&lt;/script&gt; paragraph.</p>" in summary
    assert "<ul>\n<li>one point</li>\n<li><em>another</em> point</li>\n</ul>" in summary
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert "<a " not in summary  # a summary makes no links
    # The meta description is the text on one line, without Markdown marks.
    assert '<meta name="description" content="First paragraph, with a line break. Second' in page
