"""What search engines and link previews read: JSON-LD, Open Graph, the sitemap and robots.txt."""

import json
import re
import xml.etree.ElementTree as ET

from tests.conftest import ISBN, isbn13, make_publication


def structured_data(page: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.DOTALL)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_publication_page_carries_a_valid_book_with_its_offer(client, publication):
    data = structured_data(client.get(f"/publications/{ISBN}").get_data(as_text=True))
    assert data["@context"] == "https://schema.org" and data["@type"] == "Book"
    assert data["name"] == "Leadership and engagement for improvement in the NHS"
    assert data["isbn"] == ISBN
    assert data["numberOfPages"] == 48
    assert data["datePublished"] == "2012"
    assert data["publisher"] == {"@type": "Organization", "name": "The King's Fund"}
    offer = data["offers"]
    assert offer["@type"] == "Offer"
    assert offer["price"] == "8.50" and offer["priceCurrency"] == "GBP"
    assert offer["availability"] == "https://schema.org/InStock"
    assert offer["url"] == data["url"] == f"http://shop.test/publications/{ISBN}"


def test_availability_follows_stock_and_sale(client, db):
    pub = make_publication(stock=0)
    assert structured_data(client.get(f"/publications/{ISBN}").get_data(as_text=True))["offers"]["availability"] == "https://schema.org/OutOfStock"
    pub.on_sale = False
    db.session.commit()
    assert structured_data(client.get(f"/publications/{ISBN}").get_data(as_text=True))["offers"]["availability"] == "https://schema.org/Discontinued"


def test_json_ld_cannot_be_broken_out_of(client, db):
    make_publication(title="</script><script>alert(1)</script>", summary="\"quotes\" & <tags>")
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "</script><script>alert(1)" not in page
    assert structured_data(page)["name"] == "</script><script>alert(1)</script>"


def test_open_graph_tags(client, publication):
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert '<meta property="og:type" content="book">' in page
    assert '<meta property="og:title" content="Leadership and engagement for improvement in the NHS: Together we can">' in page
    assert f'<meta property="og:url" content="http://shop.test/publications/{ISBN}">' in page
    assert f'<meta property="book:isbn" content="{ISBN}">' in page


def test_sitemap_lists_the_publications_on_sale(client, db):
    make_publication()
    make_publication(isbn=isbn13(1), title="Withdrawn", on_sale=False)
    make_publication(isbn=isbn13(2), title="Another")
    response = client.get("/sitemap.xml")
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert locs[0] == "http://shop.test/"
    assert f"http://shop.test/publications/{ISBN}" in locs
    assert f"http://shop.test/publications/{isbn13(2)}" in locs
    assert f"http://shop.test/publications/{isbn13(1)}" not in locs
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", m.text) for m in root.findall("s:url/s:lastmod", ns))


def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_the_desk(client, db):
    text = client.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /staff" in text and "Sitemap: http://shop.test/sitemap.xml" in text
