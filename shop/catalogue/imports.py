"""Catalogue files: read a CSV or ONIX 3.0 file into an ``ImportPlan``, compare the plan with the
catalogue, apply it, and write the catalogue out as CSV.

Reading never touches the database, ``compare`` only reads it, ``apply`` changes it and flushes
(the caller commits). Prices are integer pence throughout; no floats.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import select

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.errors import InvalidISBN
from shop.extensions import db
from shop.money import InvalidAmount, format_pence, parse_pounds

# The CSV format, in the order ``write_csv`` writes it.
COLUMNS = [
    "isbn",
    "title",
    "subtitle",
    "publisher",
    "year",
    "pages",
    "price",
    "stock",
    "summary",
    "pdf_url",
    "cover",
]
OPTIONAL_COLUMNS = {"pdf_url", "cover"}
# CSV column -> Publication attribute, where the names differ.
ATTRIBUTES = {"price": "price_pence", "cover": "cover_path"}
COLUMN_OF = {attribute: column for column, attribute in ATTRIBUTES.items()}
# What a new publication gets when the file does not say.
NEW_DEFAULTS = {"stock": 0, "summary": ""}

MIN_YEAR = 1800
MAX_PAGES = 10_000
MAX_STOCK = 1_000_000
MAX_PENCE = 999_999_999  # parse_pounds' ceiling; fits a 32-bit column

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
}


@dataclass
class Record:
    """One publication as a file describes it, keyed by ``Publication`` attribute."""

    isbn: str
    source: str  # "row 3", "product 2": where it came from
    fields: dict[str, Any]  # set on a new publication and updated on an existing one
    new_only: dict[str, Any] = field(default_factory=dict)  # set on a new publication only


@dataclass
class ImportPlan:
    """What a file asks for. Any ``errors`` mean nothing may be imported; ``skipped`` lists
    records left out (ONIX) while the other ``records`` may still be imported."""

    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class Change:
    """What importing one record does: ``action`` is ``add``, ``update`` or ``unchanged``;
    ``fields`` lists ``(attribute, old, new)`` for an update."""

    isbn: str
    title: str
    action: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)

    def describe(self) -> str:
        line = f"{self.action:<10} {self.isbn}  {self.title}"
        if self.fields:
            line += "\n" + "\n".join(
                f"    {COLUMN_OF.get(name, name)}: {_shown(name, old)} -> {_shown(name, new)}"
                for name, old, new in self.fields
            )
        return line


class _Invalid(ValueError):
    """One value that cannot be imported; the message says why."""


# --- values -------------------------------------------------------------------------------


def _quoted(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _fits(text: str, attribute: str) -> str:
    limit = Publication.__table__.c[attribute].type.length
    if len(text) > limit:
        raise _Invalid(f"is {len(text)} characters long; the most it may be is {limit}.")
    return text


def _required(text: str, attribute: str, what: str) -> str:
    if not text:
        raise _Invalid(f"the {what} is empty.")
    return _fits(text, attribute)


def _optional(text: str, attribute: str) -> str | None:
    return _fits(text, attribute) if text else None


def _isbn(text: str) -> str:
    if not text:
        raise _Invalid("the ISBN is empty.")
    try:
        return isbns.normalise(text)
    except InvalidISBN as error:
        raise _Invalid(error.message) from None


def _whole(text: str, what: str) -> int:
    if re.fullmatch(r"-?[0-9]+", text) is None:
        raise _Invalid(
            f"{_quoted(text)} is not a whole number of {what}."
            if text
            else f"the number of {what} is empty."
        )
    return int(text)


def _pages(text: str) -> int:
    pages = _whole(text, "pages")
    if pages < 1:
        raise _Invalid(f"{_quoted(text)} pages: a publication has at least 1 page.")
    if pages > MAX_PAGES:
        raise _Invalid(f"{_quoted(text)} pages is more than the {MAX_PAGES:,} we can print.")
    return pages


def _stock(text: str) -> int:
    stock = _whole(text, "copies in stock")
    if stock < 0:
        raise _Invalid(f"{_quoted(text)} is negative: stock is 0 or more copies.")
    if stock > MAX_STOCK:
        raise _Invalid(f"{_quoted(text)} copies is more than the {MAX_STOCK:,} we could hold.")
    return stock


def _year(text: str) -> int:
    latest = date.today().year + 2  # forthcoming titles are announced ahead
    if re.fullmatch(r"[0-9]{4}", text) is None or not MIN_YEAR <= int(text) <= latest:
        shown = f"{_quoted(text)} is not" if text else "the year is empty, not"
        raise _Invalid(f"{shown} a year of publication from {MIN_YEAR} to {latest}, such as 2012.")
    return int(text)


def _price(text: str) -> int:
    if "£" in text:
        raise _Invalid(f"{_quoted(text)}: write it without the £ sign, such as 8.50.")
    try:
        pence = parse_pounds(text)
    except InvalidAmount as error:
        raise _Invalid(str(error)) from None
    if pence == 0:
        raise _Invalid(f"{_quoted(text)} is zero: the price must be above 0.00.")
    return pence


def _onix_price(text: str) -> int:
    """An ONIX ``PriceAmount`` (``8.50``, ``8.5``, ``8.500``) as exact pence."""
    if re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", text) is None:
        raise _Invalid(f"Its GBP price {_quoted(text)} is not an amount such as 8.50.")
    pence = Decimal(text) * 100
    if pence != pence.to_integral_value():
        raise _Invalid(f"Its GBP price {_quoted(text)} is not a whole number of pence.")
    if not 0 < pence <= MAX_PENCE:
        raise _Invalid(f"Its GBP price {_quoted(text)} is not above 0.00 (or is too large).")
    return int(pence)


def _pdf_url(text: str) -> str | None:
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or re.search(r"\s", text):
        raise _Invalid(f"{_quoted(text)} is not a web address starting http:// or https://.")
    return _fits(text, "pdf_url")


def _cover(text: str) -> str | None:
    if not text:
        return None
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or "\\" in text or re.match(r"[A-Za-z]:", text):
        raise _Invalid(
            f"{_quoted(text)} must be a path inside the covers folder, written with /, "
            "such as kings-fund/leadership.jpg."
        )
    return _fits(text, "cover_path")


CSV_PARSERS = {
    "isbn": _isbn,
    "title": lambda text: _required(text, "title", "title"),
    "subtitle": lambda text: _optional(text, "subtitle"),
    "publisher": lambda text: _required(text, "publisher", "publisher"),
    "year": _year,
    "pages": _pages,
    "price": _price,
    "stock": _stock,
    "summary": lambda text: text,
    "pdf_url": _pdf_url,
    "cover": _cover,
}


# --- CSV ----------------------------------------------------------------------------------


def _letter(index: int) -> str:
    """Spreadsheet column letters: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _not_utf8(name: str, data: bytes, error: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    return (
        f"{name} is not saved as UTF-8 (line {line} has a character in another encoding, often a £ "
        "or an accented letter from Windows-1252). Save it as UTF-8: in Excel choose "
        "'CSV UTF-8 (Comma delimited) (*.csv)'; in LibreOffice choose the character set "
        "'Unicode (UTF-8)'. Nothing was imported."
    )


def _check_header(cells: list[str]) -> tuple[list[str], list[str]]:
    """The lower-cased column names of row 1 ('' for a blank cell) and what is wrong with them."""
    names = [cell.strip().lower() for cell in cells]
    if len(names) == 1 and (";" in cells[0] or "\t" in cells[0]):
        return names, ["Row 1: separate the columns with commas, not semicolons or tabs."]
    errors = []
    for index, name in enumerate(names):
        if name and name not in CSV_PARSERS:
            errors.append(
                f"Row 1, column {_letter(index)}: {_quoted(cells[index].strip())} is not a column "
                f"this import knows; the columns are {', '.join(COLUMNS)}."
            )
        elif name and names.index(name) != index:
            errors.append(
                f"Row 1, column {_letter(index)}: {name} is also column "
                f"{_letter(names.index(name))}; each column may appear once."
            )
    for name in COLUMNS:
        if name not in names and name not in OPTIONAL_COLUMNS:
            errors.append(f"Row 1: the {name} column is missing.")
    return names, errors


def read_csv(path: str | Path) -> ImportPlan:
    """Read and check every row of a CSV file (UTF-8, BOM allowed; row 1 names the columns).

    Every problem is reported as ``Row N, column X (name): …`` with N the spreadsheet row. Rows
    with errors produce no record, so apply a plan only when ``errors`` is empty.
    """
    path = Path(path)
    plan = ImportPlan()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        plan.errors.append(_not_utf8(path.name, data, error))
        return plan

    reader = csv.reader(io.StringIO(text, newline=""))
    number = 1
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            plan.errors.append(
                f"{path.name} is empty: row 1 must name the columns ({', '.join(COLUMNS)})."
            )
            return plan
        names, plan.errors = _check_header(header)
        if plan.errors:
            return plan
        first_row_of: dict[str, int] = {}
        unnamed: set[int] = set()
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # spreadsheets leave blank rows at the end
            unnamed.update(
                index
                for index, cell in enumerate(cells)
                if cell.strip() and (index >= len(names) or not names[index])
            )
            record = _csv_record(number, names, cells, plan.errors)
            if record is None:
                continue
            if record.isbn in first_row_of:
                first = first_row_of[record.isbn]
                plan.errors.append(
                    f"Row {number}, column {_letter(names.index('isbn'))} (isbn): rows {first} and "
                    f"{number} are the same book, ISBN {isbns.hyphenate(record.isbn)} (an ISBN-10 "
                    "and its ISBN-13 count as the same); each book may appear only once."
                )
                continue
            first_row_of[record.isbn] = number
            plan.records.append(record)
    except csv.Error as error:
        plan.errors.append(
            f"Row {number + 1}: this is not valid CSV ({error}); later rows were not checked."
        )
    plan.errors.extend(
        f"Column {_letter(index)} has values but no name in row 1: name it or delete it."
        for index in sorted(unnamed)
    )
    return plan


def _csv_record(
    number: int, names: list[str], cells: list[str], errors: list[str]
) -> Record | None:
    """The row as a record, or None after appending its problems to ``errors``."""
    fields: dict[str, Any] = {}
    before = len(errors)
    for index, name in enumerate(names):
        if not name:
            continue
        text = cells[index].strip() if index < len(cells) else ""
        try:
            if "\x00" in text:
                raise _Invalid("contains a NUL character, which cannot be stored.")
            fields[ATTRIBUTES.get(name, name)] = CSV_PARSERS[name](text)
        except _Invalid as error:
            errors.append(f"Row {number}, column {_letter(index)} ({name}): {error}")
    if len(errors) > before:
        return None
    # Stock is only set on a new title. For one already on sale, checkouts are reserving
    # copies this very minute: overwriting the number would undo them (use a stock adjustment).
    new_only = {"stock": fields.pop("stock")} if "stock" in fields else {}
    return Record(isbn=fields.pop("isbn"), source=f"row {number}", fields=fields, new_only=new_only)


# --- ONIX ---------------------------------------------------------------------------------


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


def read_onix(path: str | Path) -> ImportPlan:
    """Read the products of an ONIX for Books 3.0 message (reference or short tags, in the ONIX
    namespace or none).

    A product without an ISBN-13, title, publisher, publication year, page count (ExtentType 00,
    else 11, in pages) or GBP price is listed in ``skipped`` with its reference, never guessed.
    ``fields`` hold the bibliographic facts and price; ``new_only`` the summary (TextType 03,
    else 02), so an existing publication keeps its stock and summary. A file that is not ONIX
    3.x, or that uses entity references (which are never expanded), gives ``errors``.
    """
    path = Path(path)
    plan = ImportPlan()
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
            f"{path.name} is not ONIX 3.0 (its root is {_quoted(root.tag, 80)}, release "
            f"{_quoted(root.get('release', 'not given'))}); ask the publisher for ONIX 3.0."
        )
        return plan
    _use_reference_tags(root)
    if root.tag != "ONIXMessage":
        plan.errors.append(f"{path.name} is not an ONIX message: its root is <{root.tag[:40]}>.")
        return plan

    default_currency = _text(root, "Header/DefaultCurrencyCode")
    found: dict[str, list[Record]] = {}
    for number, product in enumerate(root.findall("Product"), start=1):
        record, problems = _onix_record(number, product, default_currency)
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
    number: int, product: etree._Element, default_currency: str
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
        isbn13 = _isbn(raw_isbn) if raw_isbn else ""
    except _Invalid as error:
        problems.append(f"Its ISBN-13: {error}")
    labels = [f"ISBN {isbns.hyphenate(isbn13)}"] if isbn13 else []
    labels += [f"record {_quoted(reference, 60)}"] if reference else []
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
        except _Invalid as error:
            problems.append(str(error))
    texts = {
        _text(t, "TextType"): _text(t, "Text")
        for t in product.findall("CollateralDetail/TextContent")
    }
    summary = texts.get("03") or texts.get("02") or ""
    record = Record(isbn=isbn13, source=source, fields=fields, new_only={"summary": summary})
    return record, problems


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
        raise _Invalid("It has no title (TitleDetail with TitleType 01, TitleElement/TitleText).")
    try:
        return _fits(title, "title")
    except _Invalid as error:
        raise _Invalid(f"Its title {error}") from None


def _onix_subtitle(product: etree._Element) -> str | None:
    try:
        return _optional(_text(_title_element(product), "Subtitle"), "subtitle")
    except _Invalid as error:
        raise _Invalid(f"Its subtitle {error}") from None


def _onix_publisher(product: etree._Element) -> str:
    publishers = product.findall("PublishingDetail/Publisher")
    chosen = [p for p in publishers if _text(p, "PublishingRole") == "01"] or publishers
    name = next((_text(p, "PublisherName") for p in chosen if _text(p, "PublisherName")), "")
    name = name or _text(product, "PublishingDetail/Imprint/ImprintName")
    if not name:
        raise _Invalid("It has no publisher name (PublishingDetail/Publisher/PublisherName).")
    try:
        return _fits(name, "publisher")
    except _Invalid as error:
        raise _Invalid(f"Its publisher name {error}") from None


def _onix_year(product: etree._Element) -> int:
    dates = [
        _text(d, "Date")
        for d in product.findall("PublishingDetail/PublishingDate")
        if _text(d, "PublishingDateRole") == "01"
    ]
    if not dates:
        raise _Invalid("It has no publication date (PublishingDate with PublishingDateRole 01).")
    try:
        return _year(dates[0][:4])  # every ONIX date format starts with the year
    except _Invalid as error:
        raise _Invalid(f"Its publication date {_quoted(dates[0])}: {error}") from None


def _onix_pages(product: etree._Element) -> int:
    counts = {
        _text(e, "ExtentType"): _text(e, "ExtentValue")
        for e in reversed(product.findall("DescriptiveDetail/Extent"))  # first one of a type wins
        if _text(e, "ExtentType") in ("00", "11") and _text(e, "ExtentUnit") == "03"
    }
    value = counts.get("00") or counts.get("11")
    if not value:
        raise _Invalid("It has no page count (Extent with ExtentType 00 or 11 and ExtentUnit 03).")
    try:
        return _pages(value)
    except _Invalid as error:
        raise _Invalid(f"Its page count: {error}") from None


def _onix_gbp_price(product: etree._Element, default_currency: str) -> int:
    prices = [
        p
        for p in product.findall("ProductSupply/SupplyDetail/Price")
        if (_text(p, "CurrencyCode") or default_currency) == "GBP" and _text(p, "PriceAmount")
    ]
    if not prices:
        raise _Invalid(
            "It has no GBP price (ProductSupply/SupplyDetail/Price with CurrencyCode GBP)."
        )
    # Recommended retail price including tax, then excluding it, then whichever comes first.
    preference = {"02": 0, "01": 1}
    prices.sort(key=lambda p: preference.get(_text(p, "PriceType"), 2))
    return _onix_price(_text(prices[0], "PriceAmount"))


# --- comparing and applying ---------------------------------------------------------------


def _shown(attribute: str, value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if attribute == "price_pence":
        return format_pence(value)
    return _quoted(value, 60) if isinstance(value, str) else str(value)


def _existing(isbn_list: Iterable[str]) -> dict[str, Publication]:
    found: dict[str, Publication] = {}
    isbn_list = list(isbn_list)
    for start in range(0, len(isbn_list), 500):  # keep IN lists well under driver limits
        chunk = isbn_list[start : start + 500]
        found.update(
            (p.isbn, p)
            for p in db.session.scalars(select(Publication).where(Publication.isbn.in_(chunk)))
        )
    return found


def _changes(plan: ImportPlan) -> tuple[list[Change], dict[str, Publication]]:
    existing = _existing(record.isbn for record in plan.records)
    changes = []
    for record in plan.records:
        publication = existing.get(record.isbn)
        title = record.fields.get("title") or (publication.title if publication else "")
        if publication is None:
            changes.append(Change(record.isbn, title, "add"))
            continue
        differences = [
            (attribute, getattr(publication, attribute), value)
            for attribute, value in record.fields.items()
            if getattr(publication, attribute) != value
        ]
        changes.append(
            Change(record.isbn, title, "update" if differences else "unchanged", differences)
        )
    return changes, existing


def compare(plan: ImportPlan) -> list[Change]:
    """What ``apply(plan)`` would do to each record, in file order; reads, never writes."""
    return _changes(plan)[0]


def apply(plan: ImportPlan) -> list[Change]:
    """Add the plan's new publications and update the existing ones (never their orders: order
    lines hold their own copies of prices), then flush. Returns what was done, in file order.

    Raises ``ValueError`` for a plan with errors: such a plan must not be imported at all.
    """
    if plan.errors:
        raise ValueError("a plan with errors must not be applied")
    changes, existing = _changes(plan)
    for record, change in zip(plan.records, changes, strict=True):
        if change.action == "add":
            db.session.add(
                Publication(
                    isbn=record.isbn, **{**NEW_DEFAULTS, **record.new_only, **record.fields}
                )
            )
        for attribute, _old, new in change.fields:
            setattr(existing[record.isbn], attribute, new)
    db.session.flush()
    return changes


# --- export -------------------------------------------------------------------------------


def _pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def write_csv(path: str | Path) -> int:
    """Write every publication, ordered by title, in the format ``read_csv`` reads (UTF-8 with a
    BOM, so Excel shows £ and accents; price as ``8.50``). Returns how many were written."""
    statement = select(Publication).order_by(Publication.title, Publication.isbn)
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for p in db.session.scalars(statement):
            writer.writerow(
                (p.isbn, p.title, p.subtitle or "", p.publisher, p.year, p.pages)
                + (_pounds(p.price_pence), p.stock, p.summary, p.pdf_url or "", p.cover_path or "")
            )
            count += 1
    return count
