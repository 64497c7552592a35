"""`flask catalogue export --format onix`: ONIX for Books 3.0 with every field the shop keeps,
valid against EDItEUR's own schema (element order, types and code lists), and read back by the
ONIX import without a change."""

import importlib.resources
from dataclasses import asdict
from datetime import date, timedelta

import pytest
from lxml import etree
from sqlalchemy import delete, select, update

from shop.catalogue.admin import details_of
from shop.catalogue.imports.onix import read_onix
from shop.catalogue.imports.plan import compare
from shop.catalogue.models import CatalogueChange, Publication
from shop.catalogue.rules import Contributor
from shop.timeutil import local_today, utcnow
from tests.conftest import ISBN, isbn13, make_publication

NS = {"o": "http://ns.editeur.org/onix/3.0/reference"}
SOON = local_today() + timedelta(days=45)


@pytest.fixture(scope="module")
def onix_schema() -> etree.XMLSchema:
    """EDItEUR's ONIX 3.0 reference-tag XSD with its code lists, as the onixcheck package ships
    them (a test dependency: requirements.txt)."""
    folder = importlib.resources.files("onixcheck") / "schema" / "xsd3.0"
    return etree.XMLSchema(etree.parse(str(folder / "ONIX_BookProduct_3.0_reference.xsd")))


def full_catalogue():
    """A title with every field, a forthcoming one with names that need escaping, and a plain one."""
    make_publication(
        publication_date=date(2012, 5, 14), pdf_url="https://www.example.org/leadership.pdf",
        contributors=(Contributor("A01", "Chris Ham"), Contributor("A01", "Nicola Walsh"),
                      Contributor("B01", "Anna Charles")),
        subjects=("MBP", "MBPM", "1DDU-GB-E"), availability="32", expected_ship_date=SOON, stock=0,
        summary="What leaders do — and don't.",
    )
    make_publication(
        isbn=isbn13(1), title="Santé & soins: <Évaluation>", subtitle=None, publisher="Höpital Press",
        publishing_status="02", availability="10", publication_date=SOON, year=SOON.year,
        contributors=(Contributor("A01", "Zoë O'Brien-Łukasz"),), subjects=("JKS",), summary="",
        price_pence=1999, stock=0,
    )
    make_publication(isbn=isbn13(2), title="Plain", subtitle=None, summary="", stock=4)


def export(runner, db, path, *args):
    db.session.rollback()
    result = runner.invoke(args=["catalogue", "export", "--format", "onix", str(path), *args])
    db.session.expire_all()
    return result


def test_the_export_is_valid_onix_3_with_every_field(runner, db, tmp_path, onix_schema):
    full_catalogue()
    path = tmp_path / "catalogue.xml"
    result = export(runner, db, path)
    assert result.exit_code == 0, result.output
    assert "Wrote 3 publication(s)" in result.output
    raw = path.read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "Zoë O'Brien-Łukasz".encode() in raw  # UTF-8, not character references
    document = etree.parse(str(path))
    assert onix_schema.validate(document), onix_schema.error_log
    root = document.getroot()
    assert root.get("release") == "3.0"
    [product] = root.xpath(f"o:Product[o:ProductIdentifier[o:ProductIDType='15']/o:IDValue='{ISBN}']", namespaces=NS)

    def one(path: str) -> str:
        [found] = product.xpath(path, namespaces=NS)
        return found if isinstance(found, str) else found.text

    assert one("o:RecordReference") == f"print-shop:{ISBN}"
    assert one("o:DescriptiveDetail/o:ProductForm") == "BC"
    assert one("o:DescriptiveDetail/o:TitleDetail/o:TitleElement/o:TitleText") == "Leadership and engagement for improvement in the NHS"
    assert one("o:DescriptiveDetail/o:TitleDetail/o:TitleElement/o:Subtitle") == "Together we can"
    contributors = [
        (c.findtext("o:SequenceNumber", namespaces=NS), c.findtext("o:ContributorRole", namespaces=NS),
         c.findtext("o:PersonName", namespaces=NS))
        for c in product.xpath("o:DescriptiveDetail/o:Contributor", namespaces=NS)
    ]
    assert contributors == [("1", "A01", "Chris Ham"), ("2", "A01", "Nicola Walsh"), ("3", "B01", "Anna Charles")]
    assert one("o:DescriptiveDetail/o:Extent[o:ExtentType='00']/o:ExtentValue") == "48"
    subjects = [(s.find("o:MainSubject", NS) is not None, s.findtext("o:SubjectSchemeIdentifier", namespaces=NS),
                 s.findtext("o:SubjectCode", namespaces=NS)) for s in product.xpath("o:DescriptiveDetail/o:Subject", namespaces=NS)]
    assert subjects == [(True, "93", "MBP"), (False, "93", "MBPM"), (False, "94", "1DDU-GB-E")]
    assert one("o:CollateralDetail/o:TextContent[o:TextType='03']/o:Text") == "What leaders do — and don't."
    resource = "o:CollateralDetail/o:SupportingResource[o:ResourceContentType='28']"
    assert one(f"{resource}/o:ResourceVersion/o:ResourceLink") == "https://www.example.org/leadership.pdf"
    assert one(f"{resource}/o:ResourceVersion/o:ResourceVersionFeature/o:FeatureValue") == "E107"  # PDF
    assert one("o:PublishingDetail/o:Publisher/o:PublisherName") == "The King's Fund"
    assert one("o:PublishingDetail/o:PublishingStatus") == "04"
    assert one("o:PublishingDetail/o:PublishingDate[o:PublishingDateRole='01']/o:Date") == "20120514"
    supply = "o:ProductSupply/o:SupplyDetail"
    assert one(f"{supply}/o:ProductAvailability") == "32"
    assert one(f"{supply}/o:SupplyDate[o:SupplyDateRole='08']/o:Date") == SOON.strftime("%Y%m%d")
    assert one(f"{supply}/o:Price[o:PriceType='02']/o:PriceAmount") == "8.50"
    assert one(f"{supply}/o:Price/o:CurrencyCode") == "GBP"
    assert one(f"{supply}/o:Price/o:Tax/o:TaxRateCode") == "Z"  # printed books: zero-rated
    forthcoming = root.xpath(f"o:Product[o:ProductIdentifier/o:IDValue='{isbn13(1)}']", namespaces=NS)[0]
    assert forthcoming.findtext("o:NotificationType", namespaces=NS) == "02"
    assert forthcoming.findtext("o:PublishingDetail/o:PublishingStatus", namespaces=NS) == "02"
    plain = root.xpath(f"o:Product[o:ProductIdentifier/o:IDValue='{isbn13(2)}']", namespaces=NS)[0]
    assert plain.find("o:DescriptiveDetail/o:NoContributor", NS) is not None
    assert plain.find("o:PublishingDetail/o:PublishingDate/o:Date", NS).get("dateformat") == "05"  # a year


def test_importing_the_export_changes_nothing(runner, db, tmp_path):
    full_catalogue()
    path = tmp_path / "catalogue.xml"
    assert export(runner, db, path).exit_code == 0
    plan = read_onix(path)
    assert (plan.errors, plan.skipped, plan.notes) == ([], [], [])
    assert [change.action for change in compare(plan)] == ["unchanged"] * 3
    history = db.session.query(CatalogueChange).count()
    result = runner.invoke(args=["catalogue", "import", str(path)])
    assert result.exit_code == 0 and "0 added, 0 updated, 3 unchanged" in result.output
    assert db.session.query(CatalogueChange).count() == history


def test_the_round_trip_is_lossless_into_an_empty_catalogue(runner, db, tmp_path):
    full_catalogue()
    before = {p.isbn: asdict(details_of(p)) for p in db.session.scalars(select(Publication))}
    path = tmp_path / "catalogue.xml"
    assert export(runner, db, path).exit_code == 0
    db.session.execute(delete(Publication))
    db.session.commit()
    result = runner.invoke(args=["catalogue", "import", str(path)])
    assert result.exit_code == 0 and "3 added" in result.output, result.output
    db.session.expire_all()
    after = {p.isbn: asdict(details_of(p)) for p in db.session.scalars(select(Publication))}
    assert after == before


def test_chosen_titles_and_an_update_file_of_changes_since_a_day(runner, db, tmp_path, onix_schema):
    full_catalogue()
    old = utcnow() - timedelta(days=10)
    db.session.execute(update(Publication).values(updated_at=old))
    db.session.execute(update(Publication).where(Publication.isbn == isbn13(2)).values(price_pence=600))
    db.session.commit()
    path = tmp_path / "some.xml"
    result = export(runner, db, path, "--isbn", "978-1-85717-640-7", "--isbn", isbn13(1))
    assert result.exit_code == 0 and "Wrote 2" in result.output
    ids = etree.parse(str(path)).xpath("//o:ProductIdentifier[o:ProductIDType='15']/o:IDValue/text()", namespaces=NS)
    assert sorted(ids) == sorted([ISBN, isbn13(1)])
    since = (local_today() - timedelta(days=2)).isoformat()
    result = export(runner, db, path, "--since", since)
    assert result.exit_code == 0 and "Wrote 1" in result.output
    assert etree.parse(str(path)).xpath("//o:ProductIdentifier[o:ProductIDType='15']/o:IDValue/text()", namespaces=NS) == [isbn13(2)]
    result = export(runner, db, path, "--since", (local_today() + timedelta(days=1)).isoformat())
    document = etree.parse(str(path))
    assert "Wrote 0" in result.output and document.getroot().find("o:NoProduct", NS) is not None
    assert onix_schema.validate(document), onix_schema.error_log  # an empty update is still ONIX


def test_bad_choices_are_refused_with_a_message(runner, db, tmp_path):
    path = tmp_path / "x.xml"
    result = export(runner, db, path, "--isbn", "978-1-85717-640-8")
    assert result.exit_code != 0 and "check digit is wrong" in result.output
    result = export(runner, db, path, "--since", "last tuesday")
    assert result.exit_code != 0 and "such as 2026-03-01" in result.output
    result = runner.invoke(args=["catalogue", "export", str(tmp_path / "x.csv"), "--isbn", ISBN])
    assert result.exit_code != 0 and "ONIX only" in result.output


def test_the_import_reads_lifecycle_fields_from_other_senders(db, tmp_path):
    """Short tags, contributors by structured name, a main subject given last, roles and subject
    codes this shop does not use noted and left out, a corporate author."""
    path = tmp_path / "feed.xml"
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<ONIXmessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/short">
<header><sender><x298>Distributor</x298></sender><x307>20260101</x307></header>
<product><a001>R1</a001><a002>03</a002>
<productidentifier><b221>15</b221><b244>{ISBN}</b244></productidentifier>
<descriptivedetail><x314>00</x314><b012>BC</b012>
<titledetail><b202>01</b202><titleelement><x409>01</x409><b203>A report</b203></titleelement></titledetail>
<contributor><b034>2</b034><b035>B01</b035><b039>Anna</b039><b040>Charles</b040></contributor>
<contributor><b034>1</b034><b035>A01</b035><b035>A45</b035><b047>The King's Fund</b047></contributor>
<extent><b218>00</b218><b219>40</b219><b220>03</b220></extent>
<subject><b067>93</b067><b069>MBPM</b069></subject>
<subject><b067>10</b067><b069>MED000000</b069></subject>
<subject><x425/><b067>93</b067><b069>MBP</b069></subject>
<subject><b067>93</b067><b069>mb p!</b069></subject>
</descriptivedetail>
<publishingdetail><publisher><b291>01</b291><b081>KF</b081></publisher><b394>04</b394>
<publishingdate><x448>01</x448><b306>20240301</b306></publishingdate></publishingdetail>
<productsupply><supplydetail><supplier><j292>01</j292><j137>D</j137></supplier><j396>31</j396>
<supplydate><x461>08</x461><b306>{SOON:%Y%m%d}</b306></supplydate>
<price><x462>02</x462><j151>9.00</j151><j152>GBP</j152></price></supplydetail></productsupply>
</product></ONIXmessage>"""
    path.write_text(feed, encoding="utf-8")
    plan = read_onix(path)
    assert plan.errors == [] and plan.skipped == []
    [record] = plan.records
    fields = record.fields
    assert fields["contributors"] == (Contributor("A01", "The King's Fund"), Contributor("B01", "Anna Charles"))
    assert fields["subjects"] == ("MBP", "MBPM")
    assert (fields["publishing_status"], fields["availability"]) == ("04", "31")
    assert (fields["publication_date"], fields["expected_ship_date"]) == (date(2024, 3, 1), SOON)
    assert any("A45" in note for note in plan.notes) and any("mb p!" in note for note in plan.notes)
    # A date the catalogue's rules refuse skips the product, saying why; it is never guessed.
    path.write_text(feed.replace(f"{SOON:%Y%m%d}", "20990101"), encoding="utf-8")
    [skipped] = read_onix(path).skipped
    assert "Its expected ship date: Enter a date copies are expected from 1800 to" in skipped


def test_a_feed_that_names_no_contributors_or_subjects_leaves_them_as_they_are(runner, db, tmp_path):
    make_publication(contributors=(Contributor("A01", "Chris Ham"),), subjects=("MBP",))
    path = tmp_path / "catalogue.xml"
    assert export(runner, db, path).exit_code == 0
    document = etree.parse(str(path))
    for element in document.xpath("//o:Contributor | //o:Subject", namespaces=NS):
        element.getparent().remove(element)
    document.write(str(path), encoding="UTF-8", xml_declaration=True)
    [change] = compare(read_onix(path))
    assert change.action == "unchanged"
    [detail] = document.xpath("//o:DescriptiveDetail", namespaces=NS)
    detail.insert(list(detail).index(detail.find("o:Extent", NS)), etree.Element(f"{{{NS['o']}}}NoContributor"))
    document.write(str(path), encoding="UTF-8", xml_declaration=True)
    [change] = compare(read_onix(path))
    assert change.fields == [("contributors", (Contributor("A01", "Chris Ham"),), ())]
