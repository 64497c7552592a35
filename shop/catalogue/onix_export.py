"""The catalogue out as ONIX for Books 3.0 (reference tags, UTF-8), for distributors, Nielsen
BookData and library suppliers: the shop's own lifecycle in the book trade's own codes.

Each product carries what the ONIX import (``imports.onix``) reads back, so importing an export
changes nothing: record reference, ISBN-13 (and the same number as GTIN-13), product form
(paperback), title and subtitle, contributors with their roles, extent in pages, Thema
subjects (the first as the main subject), the summary, the free PDF, the publisher, the
publishing status and date, and one supply detail with the availability, the expected
availability date and the GBP price with its volume prices (quantity discounts). Elements are written in the order the ONIX 3.0 schema
requires (tests/catalogue/test_onix_export.py validates against EDItEUR's own XSD).

The free PDF is a ``SupportingResource`` (full content, text, a linkable resource in PDF), not a
``RelatedProduct``: a related product must be named by its own product identifier (an ISBN),
and a free PDF published only as a link has none.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select

from shop.catalogue import codes
from shop.catalogue.models import Publication
from shop.extensions import db
from shop.money import decimal_pounds
from shop.progress import Advance, nothing

NAMESPACE = "http://ns.editeur.org/onix/3.0/reference"
RELEASE = "3.0"


def _add(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _date(day: date) -> str:
    return day.strftime("%Y%m%d")  # format 00, the default: no dateformat attribute needed


def selected(isbns: Sequence[str] = (), since: datetime | None = None):
    """The publications to export: every one, or those with these ISBNs, or those changed since
    a moment (an update file); in ISBN order."""
    statement = select(Publication).order_by(Publication.isbn)
    if isbns:
        statement = statement.where(Publication.isbn.in_(list(isbns)))
    if since is not None:
        statement = statement.where(Publication.updated_at >= since)
    return statement


def count(isbns: Sequence[str] = (), since: datetime | None = None) -> int:
    statement = selected(isbns, since).order_by(None).with_only_columns(func.count())
    return db.session.scalar(statement) or 0


def write_onix(
    path: str | Path,
    publications: Iterable[Publication],
    sender: str,
    record_prefix: str,
    sent_at: datetime,
    advance: Advance = nothing,
) -> int:
    """Write an ONIX 3.0 message of ``publications`` to ``path`` (UTF-8, with an XML
    declaration); a message of none says so with ``NoProduct``. ``sender`` names us in the
    header; each record's reference is ``record_prefix`` and its ISBN. Calls ``advance(1)``
    after each product; returns how many were written."""
    root = etree.Element(f"{{{NAMESPACE}}}ONIXMessage", {"release": RELEASE}, nsmap={None: NAMESPACE})
    header = _add(root, "Header")
    _add(_add(header, "Sender"), "SenderName", sender[:100])
    _add(header, "SentDateTime", sent_at.strftime("%Y%m%dT%H%M%SZ"))
    _add(header, "DefaultLanguageOfText", "eng")
    written = 0
    for publication in publications:
        root.append(product_element(publication, sender, record_prefix))
        written += 1
        advance(1)
    if not written:
        _add(root, "NoProduct")
    etree.ElementTree(root).write(
        str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return written


def product_element(publication: Publication, supplier: str, record_prefix: str) -> etree._Element:
    """One ``Product``, its blocks in the schema's order: descriptive, collateral, publishing,
    supply."""
    product = etree.Element(f"{{{NAMESPACE}}}Product")
    _add(product, "RecordReference", f"{record_prefix}{publication.isbn}")
    forthcoming = publication.publishing_status == codes.FORTHCOMING
    _add(product, "NotificationType",
         codes.NOTIFICATION_ADVANCE if forthcoming else codes.NOTIFICATION_CONFIRMED)
    _add(product, "RecordSourceType", codes.RECORD_SOURCE_PUBLISHER)
    for id_type in (codes.GTIN_13, codes.ISBN_13):
        identifier = _add(product, "ProductIdentifier")
        _add(identifier, "ProductIDType", id_type)
        _add(identifier, "IDValue", publication.isbn)
    _descriptive_detail(product, publication)
    _collateral_detail(product, publication)
    _publishing_detail(product, publication)
    _product_supply(product, publication, supplier)
    return product


def _descriptive_detail(product: etree._Element, publication: Publication) -> None:
    detail = _add(product, "DescriptiveDetail")
    _add(detail, "ProductComposition", codes.SINGLE_ITEM)
    _add(detail, "ProductForm", codes.PAPERBACK)
    title = _add(detail, "TitleDetail")
    _add(title, "TitleType", codes.DISTINCTIVE_TITLE)
    element = _add(title, "TitleElement")
    _add(element, "TitleElementLevel", codes.PRODUCT_LEVEL)
    _add(element, "TitleText", publication.title)
    if publication.subtitle:
        _add(element, "Subtitle", publication.subtitle)
    if publication.contributors:
        for sequence, contributor in enumerate(publication.contributors, start=1):
            composite = _add(detail, "Contributor")
            _add(composite, "SequenceNumber", str(sequence))
            _add(composite, "ContributorRole", contributor.role)
            _add(composite, "PersonName", contributor.name)
    else:
        _add(detail, "NoContributor")
    extent = _add(detail, "Extent")
    _add(extent, "ExtentType", codes.MAIN_CONTENT_PAGES)
    _add(extent, "ExtentValue", str(publication.pages))
    _add(extent, "ExtentUnit", codes.PAGES)
    for position, code in enumerate(publication.subjects):
        subject = _add(detail, "Subject")
        scheme = codes.thema_scheme(code)
        if position == 0 and scheme == codes.THEMA_SUBJECT:
            _add(subject, "MainSubject")
        _add(subject, "SubjectSchemeIdentifier", scheme)
        _add(subject, "SubjectCode", code)


def _collateral_detail(product: etree._Element, publication: Publication) -> None:
    if not (publication.summary or publication.pdf_url):
        return
    detail = _add(product, "CollateralDetail")
    if publication.summary:
        text = _add(detail, "TextContent")
        _add(text, "TextType", codes.DESCRIPTION)
        _add(text, "ContentAudience", codes.UNRESTRICTED)
        _add(text, "Text", publication.summary)
    if publication.pdf_url:
        resource = _add(detail, "SupportingResource")
        _add(resource, "ResourceContentType", codes.FULL_CONTENT)
        _add(resource, "ContentAudience", codes.UNRESTRICTED)
        _add(resource, "ResourceMode", codes.TEXT_MODE)
        version = _add(resource, "ResourceVersion")
        _add(version, "ResourceForm", codes.LINKABLE_RESOURCE)
        feature = _add(version, "ResourceVersionFeature")
        _add(feature, "ResourceVersionFeatureType", codes.FILE_FORMAT)
        _add(feature, "FeatureValue", codes.PDF_FORMAT)
        _add(version, "ResourceLink", publication.pdf_url)


def _publishing_detail(product: etree._Element, publication: Publication) -> None:
    detail = _add(product, "PublishingDetail")
    publisher = _add(detail, "Publisher")
    _add(publisher, "PublishingRole", codes.PUBLISHER)
    _add(publisher, "PublisherName", publication.publisher)
    _add(detail, "PublishingStatus", publication.publishing_status)
    published = _add(detail, "PublishingDate")
    _add(published, "PublishingDateRole", codes.PUBLICATION_DATE)
    if publication.publication_date:
        _add(published, "Date", _date(publication.publication_date))
    else:  # only the year is known
        _add(published, "Date", str(publication.year), dateformat=codes.DATE_YYYY)


def _product_supply(product: etree._Element, publication: Publication, supplier: str) -> None:
    supply = _add(_add(product, "ProductSupply"), "SupplyDetail")
    composite = _add(supply, "Supplier")
    _add(composite, "SupplierRole", codes.PUBLISHER_TO_END_CUSTOMERS)
    _add(composite, "SupplierName", supplier[:100])
    _add(supply, "ProductAvailability", publication.availability)
    if publication.expected_ship_date:
        expected = _add(supply, "SupplyDate")
        _add(expected, "SupplyDateRole", codes.EXPECTED_AVAILABILITY_DATE)
        _add(expected, "Date", _date(publication.expected_ship_date))
    # The copies on the shelf to sell, so that a recipient sees "in stock (21)" with none on
    # hand for what it is; the availability stays the publisher's own code (the importer reads
    # it back unchanged), as the shop sells it (catalogue.availability.offer reads both).
    _add(_add(supply, "Stock"), "OnHand", str(max(publication.stock, 0)))
    for price in _prices(publication):
        supply.append(price)


def _prices(publication: Publication) -> list[etree._Element]:
    """The ``Price`` composites of the supply detail: the one place prices are written.

    One: the recommended retail price including tax (PriceType 02; printed books are
    zero-rated in the UK, so the shop's price is both with and without VAT, and the import reads
    02 first), with its zero-rated VAT. Each volume price is a ``Discount`` composite inside it,
    before ``PriceAmount`` as the schema's order requires: a rising discount (DiscountType 01,
    list 170: applied to every copy of a qualifying order) from ``Quantity`` copies up to
    ``ToQuantity`` (the next break less one; the last has none), of ``DiscountAmount`` a copy
    (the price less the break's price). The import reads them back into the same breaks.
    """
    price = etree.Element(f"{{{NAMESPACE}}}Price")
    _add(price, "PriceType", codes.RRP_INCLUDING_TAX)
    breaks = publication.price_breaks
    for index, price_break in enumerate(breaks):
        discount = _add(price, "Discount")
        _add(discount, "DiscountType", codes.RISING_DISCOUNT)
        _add(discount, "Quantity", str(price_break.min_quantity))
        if index + 1 < len(breaks):
            _add(discount, "ToQuantity", str(breaks[index + 1].min_quantity - 1))
        _add(discount, "DiscountAmount", decimal_pounds(publication.price_pence - price_break.price_pence))
    _add(price, "PriceAmount", decimal_pounds(publication.price_pence))
    tax = _add(price, "Tax")
    _add(tax, "TaxType", codes.VAT)
    _add(tax, "TaxRateCode", codes.ZERO_RATED)
    _add(tax, "TaxRatePercent", "0")
    _add(tax, "TaxableAmount", decimal_pounds(publication.price_pence))
    _add(tax, "TaxAmount", "0.00")
    _add(price, "CurrencyCode", "GBP")
    return [price]
