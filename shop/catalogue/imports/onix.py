"""Reading an ONIX for Books 3.0 message (reference or short tags, in the ONIX namespace or none)
into an ``ImportPlan``. Never expands entities, fetches a DTD or touches the network."""

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from shop import isbn as isbns
from shop.catalogue import codes, rules
from shop.catalogue.imports.plan import (
    ImportLimits,
    ImportPlan,
    Invalid,
    Record,
    checked,
    parse_isbn,
    quoted,
    too_large,
)
from shop.progress import Advance, nothing

ONIX_NAMESPACES = {  # namespace -> uses short tags
    "http://ns.editeur.org/onix/3.0/reference": False,
    "http://ns.editeur.org/onix/3.0/short": True,
    "http://ns.editeur.org/onix/3.1/reference": False,
    "http://ns.editeur.org/onix/3.1/short": True,
}
# Short tag -> reference name, for the elements read here only.
SHORT_TAGS = {
    "ONIXmessage": "ONIXMessage",
    "header": "Header",
    "m186": "DefaultCurrencyCode",
    "product": "Product",
    "a001": "RecordReference",
    "a002": "NotificationType",
    "productidentifier": "ProductIdentifier",
    "b221": "ProductIDType",
    "b244": "IDValue",
    "descriptivedetail": "DescriptiveDetail",
    "titledetail": "TitleDetail",
    "b202": "TitleType",
    "titleelement": "TitleElement",
    "x409": "TitleElementLevel",
    "b203": "TitleText",
    "b030": "TitlePrefix",
    "b031": "TitleWithoutPrefix",
    "b029": "Subtitle",
    "extent": "Extent",
    "b218": "ExtentType",
    "b219": "ExtentValue",
    "b220": "ExtentUnit",
    "collateraldetail": "CollateralDetail",
    "textcontent": "TextContent",
    "x426": "TextType",
    "d104": "Text",
    "publishingdetail": "PublishingDetail",
    "imprint": "Imprint",
    "b079": "ImprintName",
    "publisher": "Publisher",
    "b291": "PublishingRole",
    "b081": "PublisherName",
    "publishingdate": "PublishingDate",
    "x448": "PublishingDateRole",
    "b306": "Date",
    "productsupply": "ProductSupply",
    "supplydetail": "SupplyDetail",
    "price": "Price",
    "x462": "PriceType",
    "j151": "PriceAmount",
    "j152": "CurrencyCode",
    "discount": "Discount",
    "x467": "DiscountType",
    "x320": "Quantity",
    "x514": "ToQuantity",
    "x469": "DiscountAmount",
    "j267": "DiscountPercent",
    "b394": "PublishingStatus",
    "j396": "ProductAvailability",
    "supplydate": "SupplyDate",
    "x461": "SupplyDateRole",
    "j260": "DateFormat",
    "contributor": "Contributor",
    "b034": "SequenceNumber",
    "b035": "ContributorRole",
    "b036": "PersonName",
    "b039": "NamesBeforeKey",
    "b040": "KeyNames",
    "b047": "CorporateName",
    "subject": "Subject",
    "x425": "MainSubject",
    "b067": "SubjectSchemeIdentifier",
    "b069": "SubjectCode",
    "supportingresource": "SupportingResource",
    "x436": "ResourceContentType",
    "x437": "ResourceMode",
    "resourceversion": "ResourceVersion",
    "x435": "ResourceLink",
}


def _parser() -> etree.XMLParser:
    # Never expand entities, fetch a DTD or touch the network: an ONIX file is data, and an
    # entity could otherwise pull a local file (XXE) or blow up in memory.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _text(element: etree._Element | None, path: str) -> str:
    """The text of the first ``path`` under ``element``, whitespace collapsed; '' when absent."""
    found = element.find(path) if element is not None else None
    return " ".join("".join(found.itertext()).split()) if found is not None else ""


def _use_reference_tags(root: etree._Element) -> None:
    """Rename ONIX elements to their bare reference names, whatever namespace or tag style."""
    for element in root.iter(tag=etree.Element):
        name = etree.QName(element)
        if name.namespace is None or name.namespace in ONIX_NAMESPACES:
            element.tag = SHORT_TAGS.get(name.localname, name.localname)


def count_products(path: str | Path, limits: ImportLimits = ImportLimits()) -> int:
    """About how many products a message has, for a progress bar before reading it; 0 for a
    file over the size cap, which is refused unread."""
    path = Path(path)
    if path.stat().st_size > limits.max_bytes:
        return 0
    # Opening tags, reference or short, with or without a namespace prefix or attributes.
    return len(re.findall(rb"<(?:[\w.-]+:)?[Pp]roduct[\s>]", path.read_bytes()))


def read_onix(
    path: str | Path, limits: ImportLimits = ImportLimits(), advance: Advance = nothing
) -> ImportPlan:
    """Read the products of an ONIX for Books 3.0 message (reference or short tags, in the ONIX
    namespace or none), calling ``advance(1)`` after each.

    A product without an ISBN-13, title, publisher, publication year, page count (ExtentType 00,
    else 11, in pages) or GBP price is listed in ``skipped`` with its reference, never guessed.
    ``fields`` hold the bibliographic facts, the price, the publication date (a full date, else
    none) and the expected availability date (SupplyDate 08, else none); the publishing status,
    the availability, the contributors (or NoContributor), the Thema subjects, the free PDF
    (a SupportingResource of full content) and the volume prices (rising discounts by quantity
    in the GBP price) only when the message gives them. ``new_only`` holds the
    summary (TextType 03, else 02), so an existing publication keeps its stock and summary.
    What is left out of a product that is imported (a contributor role or subject code this
    shop does not use) is listed in ``notes``. A file that is not ONIX 3.x, or that uses entity
    references (which are never expanded), or that is over ``limits`` (bytes, products), gives
    ``errors``.
    """
    path = Path(path)
    plan = ImportPlan()
    refused = too_large(path.name, path.stat().st_size, limits)
    if refused:
        plan.errors.append(refused)
        return plan
    try:
        root = etree.fromstring(path.read_bytes(), _parser())
    except etree.XMLSyntaxError as error:
        plan.errors.append(f"{path.name} is not well-formed XML (line {error.lineno}): {error.msg}")
        return plan
    entities = sorted({entity.name for entity in root.iter(tag=etree.Entity)})
    if entities:
        shown = ", ".join(f"&{name[:30]};" for name in entities[:5])
        plan.errors.append(
            f"{path.name} uses entity references ({shown}), which this import never expands; "
            "ask for the file without a DOCTYPE. Nothing was imported."
        )
        return plan
    name = etree.QName(root)
    foreign = name.namespace is not None and name.namespace not in ONIX_NAMESPACES
    if foreign or root.get("release", "").startswith("2"):
        plan.errors.append(
            f"{path.name} is not ONIX 3.0 (its root is {quoted(root.tag, 80)}, release "
            f"{quoted(root.get('release', 'not given'))}); ask the publisher for ONIX 3.0."
        )
        return plan
    _use_reference_tags(root)
    if root.tag != "ONIXMessage":
        plan.errors.append(f"{path.name} is not an ONIX message: its root is <{root.tag[:40]}>.")
        return plan

    default_currency = _text(root, "Header/DefaultCurrencyCode")
    products = root.findall("Product")
    if len(products) > limits.max_rows:
        plan.errors.append(
            f"{path.name} has more than {limits.max_rows:,} products, the most one import takes. "
            "Ask for it in smaller files. Nothing was imported."
        )
        return plan
    found: dict[str, list[Record]] = {}
    for number, product in enumerate(products, start=1):
        advance(1)
        record, problems = _onix_record(number, product, default_currency, plan.notes)
        if problems:
            plan.skipped.append(f"{record.source}: {' '.join(problems)} Skipped.")
        else:
            found.setdefault(record.isbn, []).append(record)
    for isbn13, records in found.items():
        if len(records) == 1:
            plan.records.append(records[0])
        else:
            plan.skipped.append(
                f"{' and '.join(r.source.split(' (')[0] for r in records)} have the same ISBN "
                f"{isbns.hyphenate(isbn13)}; all of them skipped."
            )
    return plan


def _onix_record(
    number: int, product: etree._Element, default_currency: str, notes: list[str]
) -> tuple[Record, list[str]]:
    """The product as a record and what stops it being imported (nothing when it can be)."""
    problems: list[str] = []
    isbn13 = ""
    source = f"Product {number}"
    reference = _text(product, "RecordReference")
    raw_isbn = next(
        (
            _text(pid, "IDValue")
            for pid in product.findall("ProductIdentifier")
            if _text(pid, "ProductIDType") == "15"
        ),
        "",
    )
    try:
        isbn13 = parse_isbn(raw_isbn) if raw_isbn else ""
    except Invalid as error:
        problems.append(f"Its ISBN-13: {error}")
    labels = [f"ISBN {isbns.hyphenate(isbn13)}"] if isbn13 else []
    labels += [f"record {quoted(reference, 60)}"] if reference else []
    if labels:
        source += f" ({', '.join(labels)})"
    if not raw_isbn:
        problems.append("It has no ISBN-13 (ProductIdentifier with ProductIDType 15).")
    if _text(product, "NotificationType") == "05":
        problems.append(
            "It is a delete notice (NotificationType 05); withdraw it by hand if wanted."
        )

    fields: dict[str, Any] = {}
    for attribute, read in (
        ("title", _onix_title),
        ("subtitle", _onix_subtitle),
        ("publisher", _onix_publisher),
        ("year", _onix_year),
        ("pages", _onix_pages),
        ("price_pence", lambda p: _onix_gbp_price(p, default_currency)),
    ):
        try:
            fields[attribute] = read(product)
        except Invalid as error:
            problems.append(str(error))
    left_out: list[str] = []
    optional: tuple[tuple[str, Callable[[etree._Element], Any]], ...] = (
        ("publishing_status", _onix_publishing_status),
        ("availability", _onix_availability),
        ("publication_date", _onix_publication_date),
        ("expected_ship_date", _onix_expected_ship_date),
        ("pdf_url", _onix_pdf_url),
    )
    for attribute, read_optional in optional:
        try:
            value = read_optional(product)
        except Invalid as error:
            problems.append(str(error))
            continue
        if value is not _ABSENT:
            fields[attribute] = value
    for attribute, found in (
        ("contributors", _onix_contributors(product, left_out)),
        ("subjects", _onix_subjects(product, left_out)),
        ("price_breaks", _onix_price_breaks(product, default_currency, fields.get("price_pence"), left_out)),
    ):
        if found is not _ABSENT:
            fields[attribute] = found
    for attribute, message in rules.check_together(fields).items():
        problems.append(f"Its {attribute.replace('_', ' ')}: {message}")
    texts = {
        _text(t, "TextType"): _text(t, "Text")
        for t in product.findall("CollateralDetail/TextContent")
    }
    summary = texts.get("03") or texts.get("02") or ""
    record = Record(isbn=isbn13, source=source, fields=fields, new_only={"summary": summary})
    if not problems:
        notes.extend(f"{source}: {note}" for note in left_out)
    return record, problems


_ABSENT = object()  # the message does not say: an existing title keeps what it has


def _coded(product: etree._Element, path: str, table: dict[str, str], what: str, listed: str):
    code = _text(product, path)
    if not code:
        return _ABSENT
    if code not in table:
        raise Invalid(f"Its {what} {quoted(code)} is not one this shop uses (ONIX list {listed}).")
    return code


def _onix_publishing_status(product: etree._Element):
    return _coded(product, "PublishingDetail/PublishingStatus", codes.PUBLISHING_STATUSES,
                  "publishing status", "64")


def _onix_availability(product: etree._Element):
    return _coded(product, "ProductSupply/SupplyDetail/ProductAvailability", codes.AVAILABILITIES,
                  "product availability", "65")


def _full_date(element: etree._Element | None) -> date | None:
    """A ``Date`` in format 00 (YYYYMMDD, the default) as a date; None for a year or a month."""
    if element is None:
        return None
    date_element = element.find("Date")
    fmt = (date_element.get("dateformat") if date_element is not None else None) or _text(
        element, "DateFormat"
    ) or codes.DATE_YYYYMMDD
    text = _text(element, "Date")
    if fmt != codes.DATE_YYYYMMDD or re.fullmatch(r"[0-9]{8}", text) is None:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise Invalid(f"{quoted(text)} is not a date (YYYYMMDD).") from None


def _dated(product: etree._Element, path: str, role_path: str, role: str, attribute: str):
    found = next((e for e in product.findall(path) if _text(e, role_path) == role), None)
    try:
        return checked(attribute, _full_date(found))
    except Invalid as error:
        raise Invalid(f"Its {attribute.replace('_', ' ')}: {error}") from None


def _onix_publication_date(product: etree._Element) -> date | None:
    return _dated(product, "PublishingDetail/PublishingDate", "PublishingDateRole",
                  codes.PUBLICATION_DATE, "publication_date")


def _onix_expected_ship_date(product: etree._Element) -> date | None:
    return _dated(product, "ProductSupply/SupplyDetail/SupplyDate", "SupplyDateRole",
                  codes.EXPECTED_AVAILABILITY_DATE, "expected_ship_date")


def _onix_pdf_url(product: etree._Element):
    """The free PDF: a supporting resource of the full content, as text (List 158 code 28)."""
    for resource in product.findall("CollateralDetail/SupportingResource"):
        if _text(resource, "ResourceContentType") == codes.FULL_CONTENT:
            link = _text(resource, "ResourceVersion/ResourceLink")
            if link:
                try:
                    return checked("pdf_url", link)
                except Invalid as error:
                    raise Invalid(f"Its free PDF link: {error}") from None
    return _ABSENT


def _onix_contributors(product: etree._Element, left_out: list[str]):
    """In the order of their SequenceNumber (else the message's); one entry for each role.
    ``NoContributor`` says there are none; a message that names none, or none this shop can
    keep, leaves a title's contributors as they are."""
    if product.find("DescriptiveDetail/NoContributor") is not None:
        return ()
    found = []
    for position, element in enumerate(product.findall("DescriptiveDetail/Contributor")):
        sequence = _text(element, "SequenceNumber")
        order = int(sequence) if sequence.isdigit() else 10**6 + position
        name = _text(element, "PersonName") or _text(element, "CorporateName") or " ".join(
            part for part in (_text(element, "NamesBeforeKey"), _text(element, "KeyNames")) if part
        )
        for role_element in element.findall("ContributorRole"):
            role = " ".join((role_element.text or "").split())
            contributor = rules.Contributor(role, name)
            try:
                rules.check_contributors((contributor,))
            except rules.RuleBroken as broken:
                left_out.append(f"contributor left out: {broken}")
                continue
            found.append((order, position, contributor))
    found.sort(key=lambda item: item[:2])
    contributors = tuple(dict.fromkeys(c for _, _, c in found))  # the same twice, once
    try:
        rules.check_contributors(contributors)
    except rules.RuleBroken as broken:
        left_out.append(f"contributors left out: {broken}")
        return _ABSENT
    return contributors or _ABSENT


def _onix_subjects(product: etree._Element, left_out: list[str]):
    """Thema codes (schemes 93 to 99) in the message's order, its main subject first; other
    schemes (BISAC, BIC, keywords) are not this shop's and are passed over. A message with no
    Thema code leaves a title's subjects as they are (ONIX has no "no subject")."""
    main: list[str] = []
    others: list[str] = []
    for subject in product.findall("DescriptiveDetail/Subject"):
        if _text(subject, "SubjectSchemeIdentifier") not in codes.THEMA_SCHEMES:
            continue
        code = _text(subject, "SubjectCode")
        try:
            rules.check_subjects((code,))
        except rules.RuleBroken as broken:
            left_out.append(f"subject left out: {broken}")
            continue
        is_main = subject.find("MainSubject") is not None
        (main if is_main and not main else others).append(code)
    subjects = tuple(dict.fromkeys(main + others))
    try:
        rules.check_subjects(subjects)
    except rules.RuleBroken as broken:
        left_out.append(f"subjects left out: {broken}")
        return _ABSENT
    return subjects or _ABSENT


def _title_element(product: etree._Element) -> etree._Element | None:
    details = [
        d for d in product.findall("DescriptiveDetail/TitleDetail") if _text(d, "TitleType") == "01"
    ]
    elements = [e for d in details for e in d.findall("TitleElement")]
    product_level = [e for e in elements if _text(e, "TitleElementLevel") == "01"]
    return (product_level or elements or [None])[0]


def _onix_title(product: etree._Element) -> str:
    element = _title_element(product)
    title = _text(element, "TitleText") or " ".join(
        part
        for part in (_text(element, "TitlePrefix"), _text(element, "TitleWithoutPrefix"))
        if part
    )
    if not title:
        raise Invalid("It has no title (TitleDetail with TitleType 01, TitleElement/TitleText).")
    try:
        return checked("title", title)
    except Invalid as error:
        raise Invalid(f"Its title: {error}") from None


def _onix_subtitle(product: etree._Element) -> str | None:
    try:
        return checked("subtitle", _text(_title_element(product), "Subtitle") or None)
    except Invalid as error:
        raise Invalid(f"Its subtitle: {error}") from None


def _onix_publisher(product: etree._Element) -> str:
    publishers = product.findall("PublishingDetail/Publisher")
    chosen = [p for p in publishers if _text(p, "PublishingRole") == "01"] or publishers
    name = next((_text(p, "PublisherName") for p in chosen if _text(p, "PublisherName")), "")
    name = name or _text(product, "PublishingDetail/Imprint/ImprintName")
    if not name:
        raise Invalid("It has no publisher name (PublishingDetail/Publisher/PublisherName).")
    try:
        return checked("publisher", name)
    except Invalid as error:
        raise Invalid(f"Its publisher name: {error}") from None


def _onix_year(product: etree._Element) -> int:
    dates = [
        _text(d, "Date")
        for d in product.findall("PublishingDetail/PublishingDate")
        if _text(d, "PublishingDateRole") == "01"
    ]
    if not dates:
        raise Invalid("It has no publication date (PublishingDate with PublishingDateRole 01).")
    year = dates[0][:4]  # every ONIX date format starts with the year
    try:
        if not year.isascii() or not year.isdigit():
            raise Invalid("it does not start with a four-digit year.")
        return checked("year", int(year))
    except Invalid as error:
        raise Invalid(f"Its publication date {quoted(dates[0])}: {error}") from None


def _onix_pages(product: etree._Element) -> int:
    counts = {
        _text(e, "ExtentType"): _text(e, "ExtentValue")
        for e in reversed(product.findall("DescriptiveDetail/Extent"))  # first one of a type wins
        if _text(e, "ExtentType") in ("00", "11") and _text(e, "ExtentUnit") == "03"
    }
    value = counts.get("00") or counts.get("11")
    if not value:
        raise Invalid("It has no page count (Extent with ExtentType 00 or 11 and ExtentUnit 03).")
    try:
        if re.fullmatch(r"[0-9]+", value) is None:
            raise Invalid(f"{quoted(value)} is not a whole number of pages.")
        return checked("pages", int(value))
    except Invalid as error:
        raise Invalid(f"Its page count: {error}") from None


def _gbp_price_element(product: etree._Element, default_currency: str) -> etree._Element | None:
    """The GBP price the shop takes: the recommended retail price including tax, then
    excluding it, then whichever comes first."""
    prices = [
        p
        for p in product.findall("ProductSupply/SupplyDetail/Price")
        if (_text(p, "CurrencyCode") or default_currency) == "GBP" and _text(p, "PriceAmount")
    ]
    preference = {"02": 0, "01": 1}
    prices.sort(key=lambda p: preference.get(_text(p, "PriceType"), 2))
    return prices[0] if prices else None


def _onix_price_breaks(product: etree._Element, default_currency: str, price_pence: int | None,
                       left_out: list[str]):
    """Volume prices: the rising discounts (DiscountType 01, or none given: ONIX's default)
    with a ``Quantity`` in the GBP price the shop takes, each of ``DiscountAmount`` a copy (or
    ``DiscountPercent`` that comes to whole pence). A product with none keeps the title's
    breaks as they are; breaks this shop cannot keep are left out, with a note."""
    price = _gbp_price_element(product, default_currency)
    if price is None or price_pence is None:
        return _ABSENT
    found = []
    for discount in price.findall("Discount"):
        kind, quantity = _text(discount, "DiscountType") or codes.RISING_DISCOUNT, _text(discount, "Quantity")
        if kind != codes.RISING_DISCOUNT or not quantity:
            left_out.append(f"discount left out: only rising discounts by quantity (DiscountType 01 with a "
                            f"Quantity) are volume prices here, not type {kind or '01'} {quantity or 'without a quantity'}.")
            continue
        try:
            copies = Decimal(quantity)
            amount, percent = _text(discount, "DiscountAmount"), _text(discount, "DiscountPercent")
            off = Decimal(amount) * 100 if amount else Decimal(price_pence) * Decimal(percent) / 100
        except (ArithmeticError, ValueError):
            left_out.append(f"discount left out: {quoted(quantity)} copies, not an amount or a quantity.")
            continue
        if copies != copies.to_integral_value() or off != off.to_integral_value():
            left_out.append(f"discount left out: from {quantity} copies it is not whole copies and pence.")
            continue
        found.append(rules.PriceBreak(int(copies), price_pence - int(off)))
    if not found:
        return _ABSENT
    breaks = tuple(sorted(found))
    try:
        rules.check_price_breaks(breaks)
        problems = rules.check_together({"price_pence": price_pence, "price_breaks": breaks})
        if problems:
            raise rules.RuleBroken(" ".join(problems.values()))
    except rules.RuleBroken as broken:
        left_out.append(f"volume prices left out: {broken}")
        return _ABSENT
    return breaks


def _onix_gbp_price(product: etree._Element, default_currency: str) -> int:
    prices = [
        p
        for p in product.findall("ProductSupply/SupplyDetail/Price")
        if (_text(p, "CurrencyCode") or default_currency) == "GBP" and _text(p, "PriceAmount")
    ]
    if not prices:
        raise Invalid(
            "It has no GBP price (ProductSupply/SupplyDetail/Price with CurrencyCode GBP)."
        )
    # Recommended retail price including tax, then excluding it, then whichever comes first.
    preference = {"02": 0, "01": 1}
    prices.sort(key=lambda p: preference.get(_text(p, "PriceType"), 2))
    return _onix_price(_text(prices[0], "PriceAmount"))


def _onix_price(text: str) -> int:
    """An ONIX ``PriceAmount`` (``8.50``, ``8.5``, ``8.500``) as exact pence."""
    if re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", text) is None:
        raise Invalid(f"Its GBP price {quoted(text)} is not an amount such as 8.50.")
    pence = Decimal(text) * 100
    if pence != pence.to_integral_value():
        raise Invalid(f"Its GBP price {quoted(text)} is not a whole number of pence.")
    try:
        rules.check_price(int(pence))
    except rules.RuleBroken as broken:
        raise Invalid(f"Its GBP price {quoted(text)}: {broken}") from None
    return int(pence)
