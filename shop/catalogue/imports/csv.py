"""Reading a catalogue CSV file (UTF-8, row 1 naming the columns) into an ``ImportPlan``.

Every problem is reported with its spreadsheet row and column, and a file with any problem is
not imported at all. Values are checked by the catalogue's own rules (``catalogue.rules``).
"""

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

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
from shop.money import InvalidAmount, parse_pounds
from shop.progress import Advance, nothing
from shop.spreadsheet import undo

# The CSV format, in the order the export writes it.
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
    # The lifecycle in ONIX codes (lists 64 and 65), dates as 2027-03-01, contributors as
    # A01:Chris Ham;B01:Anna Charles and Thema subjects as MBP;MBPM (the main one first).
    "publishing_status",
    "availability",
    "publication_date",
    "expected_ship_date",
    "contributors",
    "subjects",
    # Volume prices: 10:7.50;50:6.00 (from 10 copies £7.50 each, from 50 £6.00); blank for none.
    "price_breaks",
]
# A file without these still imports: titles it adds get the defaults, and those it updates
# keep what they have.
OPTIONAL_COLUMNS = {
    "pdf_url", "cover", "publishing_status", "availability", "publication_date",
    "expected_ship_date", "contributors", "subjects", "price_breaks",
}
# CSV column -> Publication attribute, where the names differ.
ATTRIBUTES = {"price": "price_pence", "cover": "cover_path"}
ATTRIBUTE_COLUMNS = {attribute: column for column, attribute in ATTRIBUTES.items()}


def _whole(text: str, what: str) -> int:
    if re.fullmatch(r"-?[0-9]+", text) is None:
        raise Invalid(
            f"{quoted(text)} is not a whole number of {what}."
            if text
            else f"the number of {what} is empty."
        )
    return int(text)


def _year(text: str) -> int:
    if re.fullmatch(r"[0-9]{4}", text) is None:
        shown = f"{quoted(text)} is not a year of publication" if text else "the year is empty"
        raise Invalid(f"{shown}: write it as four digits, such as 2012.")
    return checked("year", int(text))


def _price(text: str) -> int:
    if "£" in text:
        raise Invalid(f"{quoted(text)}: write it without the £ sign, such as 8.50.")
    try:
        pence = parse_pounds(text)
    except InvalidAmount as error:
        raise Invalid(str(error)) from None
    return checked("price_pence", pence)


KEEP = object()  # a blank cell where blank means nothing: the title keeps what it has


def _code(table: dict[str, str], what: str, example: str):
    """An ONIX code (``04``; ``4`` as a spreadsheet shows it) or its words (``Active``); a blank
    cell keeps an existing title's code (a new one gets the default)."""
    by_words = {words.casefold(): code for code, words in table.items()}

    def parse(text: str) -> Any:
        if not text:
            return KEEP
        code = text.zfill(2) if text.isascii() and text.isdigit() and len(text) <= 2 else text
        code = by_words.get(text.casefold(), code)
        if code not in table:
            raise Invalid(f"{quoted(text)} is not a {what} code from ONIX list {example}.")
        return code

    return parse


def _date(what: str):
    def parse(text: str) -> date | None:
        if not text:
            return None
        found = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text) or re.fullmatch(
            r"(\d{1,2})/(\d{1,2})/(\d{4})", text
        )
        try:
            if found is None:
                raise ValueError
            numbers = [int(part) for part in found.groups()]
            year, month, day = numbers if len(found.group(1)) == 4 else numbers[::-1]
            value = date(year, month, day)
        except ValueError:
            raise Invalid(
                f"{quoted(text)} is not a date: write it as 2027-03-01 (or 01/03/2027)."
            ) from None
        return checked(what, value)

    return parse


def _contributors(text: str) -> tuple[rules.Contributor, ...]:
    try:
        found = tuple(rules.parse_contributor(item) for item in text.split(";") if item.strip())
        rules.check_contributors(found)
    except rules.RuleBroken as broken:
        raise Invalid(str(broken)) from None
    return found


def _price_breaks(text: str) -> tuple[rules.PriceBreak, ...]:
    try:
        return rules.parse_price_breaks(text)
    except rules.RuleBroken as broken:
        raise Invalid(str(broken)) from None


def _subjects(text: str) -> tuple[str, ...]:
    try:
        return rules.parse_subjects(text)
    except rules.RuleBroken as broken:
        raise Invalid(str(broken)) from None


PARSERS = {
    "isbn": parse_isbn,
    "title": lambda text: checked("title", text),
    "subtitle": lambda text: checked("subtitle", text or None),
    "publisher": lambda text: checked("publisher", text),
    "year": _year,
    "pages": lambda text: checked("pages", _whole(text, "pages")),
    "price": _price,
    "stock": lambda text: checked("stock", _whole(text, "copies in stock")),
    "summary": lambda text: checked("summary", text),
    "pdf_url": lambda text: checked("pdf_url", text or None),
    "cover": lambda text: checked("cover_path", text or None),
    "publishing_status": _code(codes.PUBLISHING_STATUSES, "publishing status", "64, such as 04 (Active)"),
    "availability": _code(codes.AVAILABILITIES, "availability", "65, such as 21 (In stock)"),
    "publication_date": _date("publication_date"),
    "expected_ship_date": _date("expected_ship_date"),
    "contributors": _contributors,
    "subjects": _subjects,
    "price_breaks": _price_breaks,
}


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
        if name and name not in PARSERS:
            errors.append(
                f"Row 1, column {_letter(index)}: {quoted(cells[index].strip())} is not a column "
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


def count_rows(path: str | Path, limits: ImportLimits = ImportLimits()) -> int:
    """About how many rows a file has (its lines), for a progress bar before reading it; 0 for
    a file over the size cap, which is refused unread."""
    path = Path(path)
    if path.stat().st_size > limits.max_bytes:
        return 0
    return max(path.read_bytes().count(b"\n") - 1, 0)


def read_csv(
    path: str | Path, limits: ImportLimits = ImportLimits(), advance: Advance = nothing
) -> ImportPlan:
    """Read and check every row of a CSV file (UTF-8, BOM allowed; row 1 names the columns),
    calling ``advance(1)`` after each.

    Every problem is reported as ``Row N, column X (name): …`` with N the spreadsheet row. Rows
    with errors produce no record, so apply a plan only when ``errors`` is empty. A file over
    ``limits`` (bytes, or rows after the first) is one error, and is not read (or not further).
    """
    path = Path(path)
    plan = ImportPlan()
    refused = too_large(path.name, path.stat().st_size, limits)
    if refused:
        plan.errors.append(refused)
        return plan
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
            advance(1)
            if not any(cell.strip() for cell in cells):
                continue  # spreadsheets leave blank rows at the end
            if number - 1 > limits.max_rows:
                plan.records.clear()
                plan.errors = [
                    f"{path.name} has more than {limits.max_rows:,} rows, the most one import "
                    "takes. Split it into smaller files. Nothing was imported."
                ]
                return plan
            unnamed.update(
                index
                for index, cell in enumerate(cells)
                if cell.strip() and (index >= len(names) or not names[index])
            )
            record = _record(number, names, cells, plan.errors)
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


def _record(
    number: int, names: list[str], cells: list[str], errors: list[str]
) -> Record | None:
    """The row as a record, or None after appending its problems to ``errors``."""
    fields: dict[str, Any] = {}
    before = len(errors)
    for index, name in enumerate(names):
        if not name:
            continue
        # The export defuses spreadsheet formulas with an apostrophe (shop.spreadsheet): undone
        # here, before the spaces go, so an exported file reads back exactly.
        text = undo(cells[index]).strip() if index < len(cells) else ""
        try:
            if "\x00" in text:
                raise Invalid("contains a NUL character, which cannot be stored.")
            value = PARSERS[name](text)
            if value is not KEEP:
                fields[ATTRIBUTES.get(name, name)] = value
        except Invalid as error:
            errors.append(f"Row {number}, column {_letter(index)} ({name}): {error}")
    if len(errors) > before:
        return None
    # Fields that must agree (a date in the year of publication, a date for a forthcoming title).
    for attribute, message in rules.check_together(fields).items():
        column = ATTRIBUTE_COLUMNS.get(attribute, attribute)
        errors.append(f"Row {number}, column {_letter(names.index(column))} ({column}): {message}")
    if len(errors) > before:
        return None
    # Stock is only set on a new title. For one already on sale, checkouts are reserving
    # copies this very minute: overwriting the number would undo them (use a stock adjustment).
    new_only = {"stock": fields.pop("stock")} if "stock" in fields else {}
    return Record(isbn=fields.pop("isbn"), source=f"row {number}", fields=fields, new_only=new_only)
