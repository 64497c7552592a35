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
    assert 'name="csrf_token"' in page
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
    with count_queries(db.engine) as few:
        assert client.get("/").status_code == 200
    with count_queries(db.engine) as one_page:
        assert client.get(f"/publications/{ISBN}").status_code == 200
    for n in range(40):
        make_publication(isbn=isbn13(100 + n), title=f"Report {n:02d}")
    with count_queries(db.engine) as many:
        assert client.get("/").status_code == 200
    with count_queries(db.engine) as one_page_later:
        assert client.get(f"/publications/{ISBN}").status_code == 200
    assert many() == few()
    assert one_page_later() == one_page() == 1


def test_catalogue_is_paginated(client, db):
    for n in range(25):
        make_publication(isbn=isbn13(200 + n), title=f"Report {n:02d}")
    first = client.get("/").get_data(as_text=True)
    second = client.get("/?page=2").get_data(as_text=True)
    assert "Report 00" in first and "Report 19" in first and "Report 20" not in first
    assert "Report 20" in second and "Page 2 of 2" in second
    assert client.get("/?page=99").status_code == 200
    assert client.get("/?page=abc").status_code == 200


def test_health_check_answers_when_the_database_does(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
