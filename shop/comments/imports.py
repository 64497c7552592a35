"""Importing comments published elsewhere (the publisher's own site) from a CSV file: UTF-8, row 1
naming the columns ``isbn, number, name, job_title, organisation, posted_at, text``.

All rows or none: every problem is reported with its spreadsheet row and column, as the
catalogue import does (shop.catalogue.imports.csv), and a file with any problem imports
nothing. Imported comments are published at once, keep their numbers (new comments continue
after the highest) and carry no email address. Their text is checked by the comments' rules but
for the link cap, which is for strangers' posts; these were moderated where they came from.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import isbn as isbns
from shop.catalogue.imports.csv import _letter, _not_utf8  # the catalogue import's wording
from shop.catalogue.imports.plan import ImportLimits, Invalid, parse_isbn, quoted, too_large
from shop.catalogue.models import Publication
from shop.comments import rules
from shop.comments.models import APPROVED, Comment
from shop.comments.services import CommentError, lock_numbers, record
from shop.extensions import db
from shop.progress import Advance, nothing
from shop.timeutil import SHOP_TZ

COLUMNS = ["isbn", "number", "name", "job_title", "organisation", "posted_at", "text"]
OPTIONAL_COLUMNS = {"job_title", "organisation"}
DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")  # as UK spreadsheets write them


@dataclass
class ImportedComment:
    row: int
    isbn: str
    number: int
    details: rules.CommentDetails
    posted_at: datetime


@dataclass
class CommentImportPlan:
    comments: list[ImportedComment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _number(text: str) -> int:
    digits = text.removeprefix("#")
    if not re.fullmatch(r"[0-9]{1,9}", digits) or int(digits) == 0:
        raise Invalid(
            f"{quoted(text)} is not a comment number: write a whole number above 0, such as 123."
            if text else "the comment number is empty."
        )
    return int(digits)


def _posted_at(text: str, now: datetime) -> datetime:
    """A date, or a date and time; without a time zone, the shop's (London)."""
    moment = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in DATE_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        raise Invalid(
            f"{quoted(text)} is not a date: write it as 2012-06-14 or 14/06/2012, with the time "
            "after it if you have it (2012-06-14 09:30)." if text else "the date is empty."
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_TZ)
    moment = moment.astimezone(UTC)
    if moment > now:
        raise Invalid(f"{quoted(text)} is in the future.")
    return moment


def _rule(name: str):
    def check(text: str) -> str | None:
        value = rules.clean_text(text) if name == "text" else rules.clean_line(text)
        try:
            rules.check(name, value)
        except rules.RuleBroken as broken:
            raise Invalid(str(broken)) from None
        return value or None

    return check


def _check_header(cells: list[str]) -> tuple[list[str], list[str]]:
    names = [cell.strip().lower() for cell in cells]
    if len(names) == 1 and (";" in cells[0] or "\t" in cells[0]):
        return names, ["Row 1: separate the columns with commas, not semicolons or tabs."]
    errors = []
    for index, name in enumerate(names):
        if name and name not in COLUMNS:
            errors.append(
                f"Row 1, column {_letter(index)}: {quoted(cells[index].strip())} is not a column "
                f"this import knows; the columns are {', '.join(COLUMNS)}."
            )
        elif name and names.index(name) != index:
            errors.append(
                f"Row 1, column {_letter(index)}: {name} is also column "
                f"{_letter(names.index(name))}; each column may appear once."
            )
    errors += [
        f"Row 1: the {name} column is missing."
        for name in COLUMNS
        if name not in names and name not in OPTIONAL_COLUMNS
    ]
    return names, errors


def count_rows(path: str | Path, limits: ImportLimits = ImportLimits()) -> int:
    """About how many rows a file has, for a progress bar; 0 for a file over the size cap."""
    path = Path(path)
    if path.stat().st_size > limits.max_bytes:
        return 0
    return max(path.read_bytes().count(b"\n") - 1, 0)


def read_csv(
    path: str | Path, now: datetime, limits: ImportLimits = ImportLimits(), advance: Advance = nothing
) -> CommentImportPlan:
    """Read and check every row, calling ``advance(1)`` after each; ``errors`` lists each problem
    as ``Row N, column X (name): …``. Checks against the database too: each ISBN must be in the
    catalogue and each number free. A file over ``limits`` (the catalogue imports' caps: bytes,
    rows) is one error, and is not read (or not further)."""
    path = Path(path)
    plan = CommentImportPlan()
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
            plan.errors.append(f"{path.name} is empty: row 1 must name the columns ({', '.join(COLUMNS)}).")
            return plan
        names, plan.errors = _check_header(header)
        if plan.errors:
            return plan
        for number, cells in enumerate(reader, start=2):
            advance(1)
            if number - 1 > limits.max_rows:
                plan.comments.clear()
                plan.errors = [
                    f"{path.name} has more than {limits.max_rows:,} rows, the most one import "
                    "takes. Split it into smaller files. Nothing was imported."
                ]
                return plan
            if any(cell.strip() for cell in cells):
                comment = _row(number, names, cells, plan.errors, now)
                if comment is not None:
                    plan.comments.append(comment)
    except csv.Error as error:
        plan.errors.append(f"Row {number + 1}: this is not valid CSV ({error}); later rows were not checked.")
    _check_against_others(plan, names)
    return plan


def _row(number: int, names: list[str], cells: list[str], errors: list[str], now: datetime):
    parsers = {
        "isbn": parse_isbn,
        "number": _number,
        "name": _rule("name"),
        "job_title": _rule("job_title"),
        "organisation": _rule("organisation"),
        "posted_at": lambda text: _posted_at(text, now),
        "text": _rule("text"),
    }
    values = {}
    before = len(errors)
    for index, name in enumerate(names):
        if not name:
            if index < len(cells) and cells[index].strip():
                errors.append(f"Row {number}, column {_letter(index)}: a value in a column with no name in row 1.")
            continue
        raw = cells[index] if index < len(cells) else ""
        cell = raw if name == "text" else raw.strip()
        try:
            if "\x00" in cell:
                raise Invalid("contains a NUL character, which cannot be stored.")
            values[name] = parsers[name](cell)
        except Invalid as error:
            errors.append(f"Row {number}, column {_letter(index)} ({name}): {error}")
    if len(errors) > before:
        return None
    return ImportedComment(
        row=number,
        isbn=values["isbn"],
        number=values["number"],
        details=rules.CommentDetails(
            name=values["name"],
            job_title=values.get("job_title"),
            organisation=values.get("organisation"),
            text=values["text"],
        ),
        posted_at=values["posted_at"],
    )


def _check_against_others(plan: CommentImportPlan, names: list[str]) -> None:
    """Numbers used twice in the file or already in use; ISBNs not in the catalogue."""
    if not plan.comments:
        return
    number_column = _letter(names.index("number"))
    isbn_column = _letter(names.index("isbn"))
    first_row: dict[int, int] = {}
    for comment in plan.comments:
        if comment.number in first_row:
            plan.errors.append(
                f"Row {comment.row}, column {number_column} (number): #{comment.number} is also "
                f"row {first_row[comment.number]}'s; each comment needs its own number."
            )
        first_row.setdefault(comment.number, comment.row)
    taken = _existing_numbers(list(first_row))
    for comment in plan.comments:
        if comment.number in taken and first_row[comment.number] == comment.row:
            plan.errors.append(
                f"Row {comment.row}, column {number_column} (number): #{comment.number} is "
                "already a comment in the shop."
            )
    found = _publication_ids({comment.isbn for comment in plan.comments})
    for comment in plan.comments:
        if comment.isbn not in found:
            plan.errors.append(
                f"Row {comment.row}, column {isbn_column} (isbn): no publication in the catalogue "
                f"has ISBN {isbns.hyphenate(comment.isbn)}; add it to the catalogue first."
            )
    plan.errors.sort(key=_row_of)


def _row_of(message: str) -> int:
    match = re.match(r"Row ([0-9]+)", message)
    return int(match.group(1)) if match else 0


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):  # keep IN lists well under driver limits
        yield values[start : start + size]


def _existing_numbers(numbers: list[int]) -> set[int]:
    taken: set[int] = set()
    for chunk in _chunks(numbers):
        taken.update(db.session.scalars(select(Comment.number).where(Comment.number.in_(chunk))))
    return taken


def _publication_ids(isbn_set: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(isbn_set)):
        rows = db.session.execute(select(Publication.isbn, Publication.id).where(Publication.isbn.in_(chunk)))
        found.update((isbn, id_) for isbn, id_ in rows)
    return found


def apply(plan: CommentImportPlan, actor: str, now: datetime) -> int:
    """Insert the plan's comments, published, each with an ``imported`` history entry; flush.
    Raises ``ValueError`` for a plan with errors, ``CommentError`` if a number was taken since
    the file was read (the caller rolls back: nothing is imported)."""
    if plan.errors:
        raise ValueError("a plan with errors must not be applied")
    lock_numbers()
    publication_ids = _publication_ids({comment.isbn for comment in plan.comments})
    made = []
    for item in sorted(plan.comments, key=lambda c: (publication_ids[c.isbn], c.number)):
        comment = Comment(
            publication_id=publication_ids[item.isbn],
            number=item.number,
            status=APPROVED,
            name=item.details.name,
            job_title=item.details.job_title,
            organisation=item.details.organisation,
            text=item.details.text,
            posted_at=item.posted_at,
            moderated_at=now,
            moderated_by=actor,
        )
        db.session.add(comment)
        made.append(comment)
    try:
        db.session.flush()
    except IntegrityError:
        raise CommentError(
            "A comment number in the file was taken while importing, so nothing was imported. "
            "Run it again to see which."
        ) from None
    for comment in made:
        record(comment, comment.publication_id, actor, "imported", None, {"status": APPROVED})
    db.session.flush()
    return len(made)
