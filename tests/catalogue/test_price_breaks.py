"""Volume prices (price breaks): the rules, the staff form, the CSV and ONIX files in and out, the
publication page (and its cache), the basket, and what Stripe is sent: 10 copies at a break
price are charged at that price, from the database."""

import html
import importlib.resources
import re

import pytest
from lxml import etree
from sqlalchemy import select

from shop.catalogue.imports.onix import read_onix
from shop.catalogue.imports.plan import compare
from shop.catalogue.models import CatalogueChange, Publication
from shop.catalogue.rules import (
    PriceBreak,
    RuleBroken,
    check_details,
    format_price_breaks,
    parse_price_breaks,
    price_bands,
    unit_price,
)
from shop.orders.models import Order
from tests.catalogue.test_imports import GOOD, catalogue, read_rows, run, write_rows
from tests.conftest import ISBN, edit_form, make_publication, start_checkout

BREAKS = (PriceBreak(10, 750), PriceBreak(50, 600))
NS = {"o": "http://ns.editeur.org/onix/3.0/reference"}


# --- the rules -----------------------------------------------------------------------------------

def test_the_price_that_applies_and_the_table_a_reader_sees():
    assert [unit_price(850, BREAKS, n) for n in (1, 9, 10, 49, 50, 500)] == [850, 850, 750, 750, 600, 600]
    assert unit_price(850, (), 100) == 850
    assert price_bands(850, BREAKS) == [(1, 9, 850), (10, 49, 750), (50, None, 600)]
    assert parse_price_breaks("10:7.50;50:6.00") == BREAKS
    assert parse_price_breaks(" 10 : £7.50 \n 50+: 6 ") == BREAKS
    assert parse_price_breaks("") == ()
    assert format_price_breaks(BREAKS) == "10:7.50;50:6.00"


@pytest.mark.parametrize(("text", "message"), [
    ("10", "Write '10' as the number of copies, a colon and the price a copy, such as 10:7.50."),
    ("ten:7.50", "Write 'ten:7.50' as the number of copies"),
    ("1:7.50", "A price break starts at 2 to 100,000 copies, not 1"),
    ("10:7,50", "The price from 10 copies: '7,50' uses a comma"),
    ("10:0", "The price from 10 copies: The price must be above £0.00."),
    ("50:6.00;10:7.50", "Write the price breaks in order of quantity, each once: 10 copies comes after 50."),
    ("10:6.00;50:7.50", "The price from 50 copies (£7.50) must be lower than the price from 10 (£6.00)."),
    ("2:8;3:7;4:6;5:5;6:4;7:3;8:2", "A title may have at most 6 price breaks."),
])
def test_each_bad_price_break_says_what_to_write(text, message):
    with pytest.raises(RuleBroken) as broken:
        parse_price_breaks(text)
    assert str(broken.value).startswith(message), str(broken.value)


def test_a_break_must_be_below_the_price_of_one_copy():
    problems = check_details({"price_pence": 700, "price_breaks": BREAKS})
    assert problems == {"price_breaks": "The price from 10 copies (£7.50) must be lower than the price of one copy (£7.00)."}


# --- the staff form ------------------------------------------------------------------------------

def test_staff_set_volume_prices_on_the_form_and_the_history_says_so(staff_client, db, publication):
    data = edit_form(staff_client, ISBN, price_breaks="10:7.50\r\n50:6.00")
    response = staff_client.post(f"/staff/catalogue/{ISBN}", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Publication.price_breaks)) == BREAKS
    change = db.session.scalars(select(CatalogueChange).filter_by(action="edited")).one()
    assert (change.before, change.after) == ({"price_breaks": []}, {"price_breaks": ["10:7.50", "50:6.00"]})
    page = html.unescape(staff_client.get(f"/staff/catalogue/{ISBN}").get_data(as_text=True))
    assert "10:7.50\n50:6.00" in page  # the form shows them back as typed


def test_a_bad_break_on_the_form_is_refused_with_everything_kept(staff_client, db, publication):
    data = edit_form(staff_client, ISBN, price_breaks="10:9.00", title="A new title")
    response = staff_client.post(f"/staff/catalogue/{ISBN}", data=data)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "The price from 10 copies (£9.00) must be lower than the price of one copy (£8.50)." in page
    assert 'href="#price_breaks"' in page and 'value="A new title"' in page and "10:9.00" in page
    db.session.expire_all()
    assert db.session.scalar(select(Publication.price_breaks)) == ()


# --- CSV and ONIX ------------------------------------------------------------------------------------

def test_the_csv_column_reads_and_writes_price_breaks(runner, db, tmp_path):
    path = write_rows(tmp_path / "in.csv", [{**GOOD, "price_breaks": "10:10.00;50:9.00"}])
    assert run(runner, db, "import", path).exit_code == 0
    assert catalogue(db)[GOOD["isbn"]].price_breaks == (PriceBreak(10, 1000), PriceBreak(50, 900))
    out = tmp_path / "out.csv"
    assert run(runner, db, "export", out).exit_code == 0
    [row] = read_rows(out)
    assert row["price_breaks"] == "10:10.00;50:9.00"
    result = run(runner, db, "import", out, "--dry-run")
    assert "0 to add, 0 to update, 1 unchanged" in result.output


@pytest.mark.parametrize(("value", "message"), [
    ("10:13.00", "The price from 10 copies (£13.00) must be lower than the price of one copy (£12.00)."),
    ("10-7.50", "Write '10-7.50' as the number of copies, a colon and the price a copy"),
])
def test_a_bad_price_breaks_cell_is_named_by_row_and_column(runner, db, tmp_path, value, message):
    path = write_rows(tmp_path / "in.csv", [{**GOOD, "price_breaks": value}])
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert f"Row 2, column R (price_breaks): {message}" in result.output
    assert catalogue(db) == {}


def test_a_lower_price_in_a_file_without_breaks_cannot_go_under_the_titles_breaks(runner, db, tmp_path):
    make_publication(isbn=GOOD["isbn"], title=GOOD["title"], price_pence=1200, price_breaks=(PriceBreak(10, 1000),))
    columns = ["isbn", "title", "subtitle", "publisher", "year", "pages", "price", "stock", "summary"]
    path = write_rows(tmp_path / "in.csv", [{**GOOD, "price": "9.00"}], columns=columns)
    result = run(runner, db, "import", path)
    assert result.exit_code != 0
    assert "The price from 10 copies (£10.00) must be lower than the price of one copy (£9.00)." in result.output
    assert catalogue(db)[GOOD["isbn"]].price_pence == 1200


@pytest.fixture(scope="module")
def onix_schema() -> etree.XMLSchema:
    folder = importlib.resources.files("onixcheck") / "schema" / "xsd3.0"
    return etree.XMLSchema(etree.parse(str(folder / "ONIX_BookProduct_3.0_reference.xsd")))


def test_onix_carries_volume_prices_as_rising_discounts_and_reads_them_back(runner, db, tmp_path, onix_schema):
    make_publication(price_breaks=BREAKS)
    path = tmp_path / "catalogue.xml"
    db.session.rollback()
    assert runner.invoke(args=["catalogue", "export", "--format", "onix", str(path)]).exit_code == 0
    document = etree.parse(str(path))
    assert onix_schema.validate(document), onix_schema.error_log
    discounts = [
        {child.tag.split("}")[1]: child.text for child in discount}
        for discount in document.xpath("//o:Price/o:Discount", namespaces=NS)
    ]
    assert discounts == [
        {"DiscountType": "01", "Quantity": "10", "ToQuantity": "49", "DiscountAmount": "1.00"},
        {"DiscountType": "01", "Quantity": "50", "DiscountAmount": "2.50"},
    ]
    plan = read_onix(path)
    assert (plan.errors, plan.skipped, plan.notes) == ([], [], [])
    assert plan.records[0].fields["price_breaks"] == BREAKS
    assert [change.action for change in compare(plan)] == ["unchanged"]


def test_onix_discounts_that_are_not_volume_prices_are_left_out_with_a_note(db, tmp_path):
    make_publication()
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference"><Header><Sender><SenderName>X</SenderName></Sender><SentDateTime>20260101</SentDateTime></Header>
<Product><RecordReference>r</RecordReference><NotificationType>03</NotificationType>
<ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>{ISBN}</IDValue></ProductIdentifier>
<DescriptiveDetail><ProductComposition>00</ProductComposition><ProductForm>BC</ProductForm>
<TitleDetail><TitleType>01</TitleType><TitleElement><TitleElementLevel>01</TitleElementLevel><TitleText>Leadership</TitleText></TitleElement></TitleDetail>
<Extent><ExtentType>00</ExtentType><ExtentValue>48</ExtentValue><ExtentUnit>03</ExtentUnit></Extent></DescriptiveDetail>
<PublishingDetail><Publisher><PublishingRole>01</PublishingRole><PublisherName>The King's Fund</PublisherName></Publisher>
<PublishingDate><PublishingDateRole>01</PublishingDateRole><Date>20120514</Date></PublishingDate></PublishingDetail>
<ProductSupply><SupplyDetail><Supplier><SupplierRole>01</SupplierRole><SupplierName>X</SupplierName></Supplier><ProductAvailability>21</ProductAvailability>
<Price><PriceType>02</PriceType><Discount><DiscountPercent>35</DiscountPercent></Discount>
<Discount><DiscountType>01</DiscountType><Quantity>20</Quantity><DiscountPercent>10</DiscountPercent></Discount>
<PriceAmount>8.50</PriceAmount><CurrencyCode>GBP</CurrencyCode></Price></SupplyDetail></ProductSupply></Product></ONIXMessage>"""
    path = tmp_path / "feed.xml"
    path.write_text(text, encoding="utf-8")
    plan = read_onix(path)
    assert plan.records[0].fields["price_breaks"] == (PriceBreak(20, 765),)  # 10% off £8.50
    assert any("only rising discounts by quantity" in note for note in plan.notes), plan.notes


# --- the publication page, the basket, checkout ----------------------------------------------------------

def test_the_publication_page_shows_the_table_and_its_cache_follows_a_change(client, db):
    make_publication(price_breaks=BREAKS)
    page = html.unescape(client.get(f"/publications/{ISBN}").get_data(as_text=True))
    assert "Volume prices" in page
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([^<]+)</td></tr>", page)
    assert rows == [("1 to 9", "£8.50"), ("10 to 49", "£7.50"), ("50 or more", "£6.00")]
    assert client.get_cookie("session") is None  # still a page for anyone, from the cache
    db.session.execute(Publication.__table__.update().values(price_breaks=(PriceBreak(20, 700),)))
    db.session.commit()
    page = html.unescape(client.get(f"/publications/{ISBN}").get_data(as_text=True))
    assert re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([^<]+)</td></tr>", page) == [
        ("1 to 19", "£8.50"), ("20 or more", "£7.00")]


def test_the_basket_applies_the_break_per_line_and_says_what_is_saved(shopper, db):
    make_publication(price_breaks=BREAKS)
    shopper.add(quantity=9)
    page = html.unescape(shopper.basket_page())
    assert "10+ copies: £7.50 each" in page and "You save" not in page
    shopper.update(quantity=10)
    page = html.unescape(shopper.basket_page())
    assert "£75.00" in page and "was <s>£8.50</s>" in page
    assert re.search(r"You save with volume prices</dt><dd>£10\.00", page)


def test_ten_copies_at_a_break_price_are_charged_at_that_price(shopper, sandbox, db):
    make_publication(price_breaks=BREAKS)
    start_checkout(shopper, sandbox, quantity=10)
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    [item] = request["params"]["line_items"]
    assert (item["price_data"]["unit_amount"], item["quantity"]) == ("750", "10")
    db.session.expire_all()
    order = db.session.scalars(select(Order)).one()
    assert order.lines[0].unit_price_pence == 750 and order.subtotal_pence == 7500
    # A forged price field changes nothing: prices come from the database.
    shopper.post("/basket/update", isbn=ISBN, quantity=10, unit_price="1")
    assert "£75.00" in shopper.basket_page()
