"""Reading a catalogue CSV file (UTF-8, row 1 naming the columns) into an ``ImportPlan``.

Every problem is reported with its spreadsheet row and column, and a file with any problem is
not imported at all. Values are checked by the catalogue's own rules (``catalogue.rules``).
"""

import csv
import io
import re
from pathlib import Path
from typing import Any

from shop import isbn as isbns
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
]
OPTIONAL_COLUMNS = {"pdf_url", "cover"}
# CSV column -> Publication attribute, where the names differ.
ATTRIBUTES = {"price": "price_pence", "cover": "cover_path"}


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


def read_csv(path: str | Path, limits: ImportLimits = ImportLimits()) -> ImportPlan:
    """Read and check every row of a CSV file (UTF-8, BOM allowed; row 1 names the columns).

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
            fields[ATTRIBUTES.get(name, name)] = PARSERS[name](text)
        except Invalid as error:
            errors.append(f"Row {number}, column {_letter(index)} ({name}): {error}")
    if len(errors) > before:
        return None
    # Stock is only set on a new title. For one already on sale, checkouts are reserving
    # copies this very minute: overwriting the number would undo them (use a stock adjustment).
    new_only = {"stock": fields.pop("stock")} if "stock" in fields else {}
    return Record(isbn=fields.pop("isbn"), source=f"row {number}", fields=fields, new_only=new_only)
