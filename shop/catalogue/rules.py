"""The catalogue's rules: what a publication's details may be, in one place.

The staff forms, the CSV and ONIX imports and the admin services all check values here, so a
limit changes in one line and every way into the catalogue says the same thing. Each source
still turns its own text into values first (a form field, a CSV cell, an ONIX element), and
says in its own words when the text is not a number at all.
"""

import re
from dataclasses import dataclass, fields
from datetime import date
from pathlib import PurePosixPath
from typing import NamedTuple
from urllib.parse import urlsplit

from shop.catalogue import codes
from shop.money import InvalidAmount, decimal_pounds, format_pence, parse_pounds

MIN_YEAR = 1800
YEARS_AHEAD = 2  # forthcoming titles are announced ahead
MAX_PAGES = 10_000
MAX_STOCK = 1_000_000
MAX_PENCE = 999_999  # a copy's price: £9,999.99, so an order's total stays far inside 32 bits
MAX_SUMMARY = 20_000
MAX_CONTRIBUTORS = 30
MAX_CONTRIBUTOR_NAME = 200
MAX_SUBJECTS = 20
# Volume prices: at most this many breaks a title, each from 2 copies up to this many.
MAX_PRICE_BREAKS = 6
MAX_BREAK_QUANTITY = 100_000
# Thema: a category is letters then letters or digits (MBP, MBNH3); a qualifier starts with the
# digit of its kind and may have hyphenated parts (1DDU-GB-E).
THEMA_CATEGORY = re.compile(r"[A-Z][A-Z0-9]{0,7}")
THEMA_QUALIFIER = re.compile(r"[1-6][A-Z0-9]{0,7}(-[A-Z0-9]{1,8}){0,3}")
# Text limits: the columns' lengths (catalogue.models).
MAX_LENGTH = {"title": 300, "subtitle": 300, "publisher": 200, "pdf_url": 500, "cover_path": 500}
NAMES = {
    "title": "title", "subtitle": "subtitle", "publisher": "publisher",
    "pdf_url": "PDF link", "cover_path": "cover path", "summary": "summary",
}


class RuleBroken(ValueError):
    """A value the catalogue does not accept; ``str()`` says why and what to do."""


class Contributor(NamedTuple):
    """A person named on the book, in the order the book names them."""

    role: str  # ONIX list 17, a key of codes.CONTRIBUTOR_ROLES
    name: str

    def coded(self) -> str:
        """As CSV files write it: ``A01:Chris Ham``."""
        return f"{self.role}:{self.name}"

    def in_words(self) -> str:
        """As the staff form shows it: ``Author (A01): Chris Ham``."""
        return f"{codes.with_code(codes.role_words(self.role), self.role)}: {self.name}"


class PriceBreak(NamedTuple):
    """From ``min_quantity`` copies of a title on one line, each copy costs ``price_pence``
    (every copy of the line, not only those above the break: a "rising discount" in ONIX's
    words, code list 170 code 01)."""

    min_quantity: int
    price_pence: int

    def coded(self) -> str:
        """As CSV files write it: ``10:7.50``."""
        return f"{self.min_quantity}:{decimal_pounds(self.price_pence)}"


def unit_price(price_pence: int, breaks: tuple[PriceBreak, ...], quantity: int) -> int:
    """What one copy costs when ``quantity`` copies are bought on one line: the price of the
    highest break ``quantity`` reaches, else ``price_pence``."""
    applied = price_pence
    for price_break in breaks:  # ascending, by check_price_breaks
        if quantity >= price_break.min_quantity:
            applied = price_break.price_pence
    return applied


def price_bands(price_pence: int, breaks: tuple[PriceBreak, ...]) -> list[tuple[int, int | None, int]]:
    """The price table a reader sees: ``(from, to or None for "and more", pence a copy)``,
    starting at 1 copy."""
    starts = [(1, price_pence), *((b.min_quantity, b.price_pence) for b in breaks)]
    return [
        (start, starts[index + 1][0] - 1 if index + 1 < len(starts) else None, pence)
        for index, (start, pence) in enumerate(starts)
    ]


@dataclass(frozen=True)
class PublicationDetails:
    """What staff may edit and imports may change: everything but the ISBN (a publication's
    identity, which baskets and order lines refer to) and the stock (which only adjustments
    change, so that no form or file can undo a checkout's reservation)."""

    title: str
    subtitle: str | None
    publisher: str
    year: int
    pages: int
    price_pence: int
    summary: str
    pdf_url: str | None
    # The book trade's lifecycle (ONIX lists 64 and 65) and who and what the book is about.
    publishing_status: str = codes.ACTIVE
    availability: str = codes.IN_STOCK
    publication_date: date | None = None
    expected_ship_date: date | None = None
    contributors: tuple[Contributor, ...] = ()
    subjects: tuple[str, ...] = ()
    # Volume prices, by quantity ascending (PriceBreak); none: one price whatever the quantity.
    price_breaks: tuple[PriceBreak, ...] = ()


DETAIL_NAMES = tuple(f.name for f in fields(PublicationDetails))


def latest_year(today: date | None = None) -> int:
    return (today or date.today()).year + YEARS_AHEAD


def _length(name: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise RuleBroken(
            f"The {NAMES[name]} is {len(text):,} characters long; the most it may be is {limit:,}."
        )


def _required_text(name: str):
    def check(value) -> None:
        if not value:
            raise RuleBroken(f"Enter the {NAMES[name]}.")
        _length(name, value, MAX_LENGTH[name])

    return check


def _optional_text(name: str):
    def check(value) -> None:
        if value:
            _length(name, value, MAX_LENGTH[name])

    return check


def check_year(value: int) -> None:
    if not MIN_YEAR <= value <= latest_year():
        raise RuleBroken(
            f"Enter a year of publication from {MIN_YEAR} to {latest_year()}, such as 2012."
        )


def check_pages(value: int) -> None:
    if value < 1:
        raise RuleBroken("A publication has at least 1 page.")
    if value > MAX_PAGES:
        raise RuleBroken(f"That is more than the {MAX_PAGES:,} pages we can print.")


def check_price(pence: int) -> None:
    if pence <= 0:
        raise RuleBroken(f"The price must be above {format_pence(0)}.")
    if pence > MAX_PENCE:
        raise RuleBroken(f"That price is too large: the most is {format_pence(MAX_PENCE)}.")


def check_stock(copies: int) -> None:
    if copies < 0:
        raise RuleBroken("Stock cannot be negative: enter 0 or more copies.")
    if copies > MAX_STOCK:
        raise RuleBroken(f"That is more than the {MAX_STOCK:,} copies we could hold.")


# Why stock changes; the key is stored as the change's ``reason``.
STOCK_REASONS = {
    "goods_in": "Goods in",
    "damaged": "Damaged",
    "stock_count": "Stock count",
}


def check_stock_change(reason: str, quantity: int) -> None:
    """A stock count sets the stock (0 or more); goods in and damaged move it by 1 or more."""
    if reason not in STOCK_REASONS:
        raise RuleBroken("Choose why the stock is changing: goods in, damaged or a stock count.")
    if reason == "stock_count":
        if not 0 <= quantity <= MAX_STOCK:
            raise RuleBroken(f"A stock count is from 0 to {MAX_STOCK:,} copies.")
    elif not 1 <= quantity <= MAX_STOCK:
        raise RuleBroken(f"Enter from 1 to {MAX_STOCK:,} copies.")


def check_summary(text: str) -> None:
    if text:
        _length("summary", text, MAX_SUMMARY)


def check_pdf_url(url: str | None) -> None:
    """A free PDF's address: http or https, a host, no spaces (so never ``javascript:``)."""
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or re.search(r"\s", url):
        raise RuleBroken("Enter a web address starting http:// or https://, or leave it empty.")
    _length("pdf_url", url, MAX_LENGTH["pdf_url"])


def check_cover_path(path: str | None) -> None:
    """A cover named in an import: a relative path inside the covers folder, never out of it."""
    if not path:
        return
    parts = PurePosixPath(path)
    if parts.is_absolute() or ".." in parts.parts or "\\" in path or re.match(r"[A-Za-z]:", path):
        raise RuleBroken(
            "A cover must be a path inside the covers folder, written with /, "
            "such as kings-fund/leadership.jpg."
        )
    _length("cover_path", path, MAX_LENGTH["cover_path"])


def check_publishing_status(code: str) -> None:
    if code not in codes.PUBLISHING_STATUSES:
        raise RuleBroken(
            f"{code!r} is not a publishing status this shop uses: choose one from ONIX list 64, "
            "such as 04 (Active) or 02 (Forthcoming)."
        )


def check_availability(code: str) -> None:
    if code not in codes.AVAILABILITIES:
        raise RuleBroken(
            f"{code!r} is not a product availability this shop uses: choose one from ONIX list "
            "65, such as 21 (In stock) or 32 (Reprinting)."
        )


def _date_in_range(what: str, value: date | None) -> None:
    if value is None:
        return
    latest = date(latest_year(), 12, 31)
    if not date(MIN_YEAR, 1, 1) <= value <= latest:
        raise RuleBroken(f"Enter a {what} from {MIN_YEAR} to {latest:%-d %B %Y}.")


def check_publication_date(value: date | None) -> None:
    _date_in_range("publication date", value)


def check_expected_ship_date(value: date | None) -> None:
    _date_in_range("date copies are expected", value)


def parse_contributor(text: str) -> Contributor:
    """``A01:Chris Ham``, ``Author: Chris Ham`` or ``Author (A01): Chris Ham`` as a contributor
    (role words in either number, any case); raises ``RuleBroken`` saying what to write."""
    role_text, colon, name = text.partition(":")
    role_text, name = role_text.strip(), " ".join(name.split())
    if not colon or not role_text or not name:
        raise RuleBroken(
            f"Write {text.strip()[:60]!r} as the role, a colon and the name, such as A01:Chris Ham "
            "or Author: Chris Ham."
        )
    coded = re.fullmatch(r"(?:.*\()?\s*([A-Za-z]\d\d)\s*\)?", role_text)
    role = coded.group(1).upper() if coded else _role_by_words(role_text)
    contributor = Contributor(role, name)
    check_contributors((contributor,))
    return contributor


def _role_by_words(words: str) -> str:
    wanted = words.casefold()
    for code, names in codes.CONTRIBUTOR_ROLES.items():
        if wanted in (names[0].casefold(), names[1].casefold()):
            return code
    return words  # check_contributors names it as unknown


def check_contributors(contributors: tuple[Contributor, ...]) -> None:
    if len(contributors) > MAX_CONTRIBUTORS:
        raise RuleBroken(f"A publication may name at most {MAX_CONTRIBUTORS} contributors.")
    seen = set()
    for role, name in contributors:
        if role not in codes.CONTRIBUTOR_ROLES:
            known = ", ".join(
                f"{code} {words[0].lower()}" for code, words in list(codes.CONTRIBUTOR_ROLES.items())[:3]
            )
            raise RuleBroken(
                f"{role[:20]!r} (for {name[:60]}) is not a contributor role this shop uses: use an "
                f"ONIX list 17 code such as {known}."
            )
        if not name.strip():
            raise RuleBroken(f"Enter the name of the {codes.role_words(role).lower()}.")
        if len(name) > MAX_CONTRIBUTOR_NAME:
            raise RuleBroken(
                f"The name {name[:40]!r}… is {len(name):,} characters long; the most is "
                f"{MAX_CONTRIBUTOR_NAME}."
            )
        if ";" in name or any(not ch.isprintable() for ch in name):
            raise RuleBroken(
                f"The name {name[:60]!r} has a semicolon or a line break in it, which separate "
                "contributors: write one name at a time."
            )
        if (role, name.casefold()) in seen:
            raise RuleBroken(f"{name} is named twice as {codes.role_words(role).lower()}.")
        seen.add((role, name.casefold()))


def check_subjects(subjects: tuple[str, ...]) -> None:
    if len(subjects) > MAX_SUBJECTS:
        raise RuleBroken(f"A publication may have at most {MAX_SUBJECTS} Thema subject codes.")
    for code in subjects:
        if not (THEMA_CATEGORY.fullmatch(code) or THEMA_QUALIFIER.fullmatch(code)):
            raise RuleBroken(
                f"{code[:30]!r} is not a Thema code: write codes such as MBP or 1DDU-GB-E, in "
                "capitals, separated by semicolons."
            )
    if len(set(subjects)) != len(subjects):
        raise RuleBroken("Each Thema subject code may appear once.")


def parse_subjects(text: str) -> tuple[str, ...]:
    """Thema codes separated by semicolons, commas or spaces, as written in a CSV cell or the
    staff form (any case); the first is the main subject."""
    found = tuple(code.upper() for code in re.split(r"[;,\s]+", text) if code)
    check_subjects(found)
    return found


def check_price_breaks(breaks: tuple[PriceBreak, ...]) -> None:
    """Each break from 2 copies up, quantities rising and prices falling, at most
    ``MAX_PRICE_BREAKS``. (That each is below the title's own price is checked with the price,
    in ``check_together``.)"""
    if len(breaks) > MAX_PRICE_BREAKS:
        raise RuleBroken(f"A title may have at most {MAX_PRICE_BREAKS} price breaks.")
    previous: PriceBreak | None = None
    for price_break in breaks:
        copies, pence = price_break
        if not 2 <= copies <= MAX_BREAK_QUANTITY:
            raise RuleBroken(
                f"A price break starts at 2 to {MAX_BREAK_QUANTITY:,} copies, not {copies:,} "
                "(1 copy costs the title's own price)."
            )
        try:
            check_price(pence)
        except RuleBroken as broken:
            raise RuleBroken(f"The price from {copies} copies: {broken}") from None
        if previous is not None and copies <= previous.min_quantity:
            raise RuleBroken(
                f"Write the price breaks in order of quantity, each once: {copies} copies comes "
                f"after {previous.min_quantity}."
            )
        if previous is not None and pence >= previous.price_pence:
            raise RuleBroken(
                f"The price from {copies} copies ({format_pence(pence)}) must be lower than the "
                f"price from {previous.min_quantity} ({format_pence(previous.price_pence)})."
            )
        previous = price_break


def parse_price_breaks(text: str) -> tuple[PriceBreak, ...]:
    """``10:7.50;50:6.00`` (semicolons or new lines between breaks; spaces and a £ sign allowed)
    as price breaks, checked; an empty text is none. ``RuleBroken`` says what to write."""
    found = []
    for item in re.split(r"[;\n]+", text or ""):
        item = item.strip()
        if not item:
            continue
        copies, colon, amount = item.partition(":")
        copies = copies.strip().removesuffix("+").strip()
        if not colon or not (copies.isascii() and copies.isdigit()):
            raise RuleBroken(
                f"Write {item[:40]!r} as the number of copies, a colon and the price a copy, "
                "such as 10:7.50."
            )
        try:
            pence = parse_pounds(amount)
        except InvalidAmount as error:
            raise RuleBroken(f"The price from {copies} copies: {error}") from None
        found.append(PriceBreak(int(copies) if len(copies) <= 9 else 10**9, pence))
    breaks = tuple(found)
    check_price_breaks(breaks)
    return breaks


def format_price_breaks(breaks: tuple[PriceBreak, ...]) -> str:
    """The breaks as ``parse_price_breaks`` reads them: ``10:7.50;50:6.00``."""
    return ";".join(price_break.coded() for price_break in breaks)


CHECKS = {
    "title": _required_text("title"),
    "subtitle": _optional_text("subtitle"),
    "publisher": _required_text("publisher"),
    "year": check_year,
    "pages": check_pages,
    "price_pence": check_price,
    "summary": check_summary,
    "pdf_url": check_pdf_url,
    "cover_path": check_cover_path,
    "stock": check_stock,
    "publishing_status": check_publishing_status,
    "availability": check_availability,
    "publication_date": check_publication_date,
    "expected_ship_date": check_expected_ship_date,
    "contributors": check_contributors,
    "subjects": check_subjects,
    "price_breaks": check_price_breaks,
}


def check(name: str, value) -> None:
    """Raise ``RuleBroken`` if ``value`` is not acceptable for the field ``name``."""
    CHECKS[name](value)


def check_together(values: dict) -> dict[str, str]:
    """What is wrong between fields of ``values`` that are each acceptable alone, as
    ``{name: message}``: a rule is checked only when ``values`` has every field it involves."""
    problems = {}
    published, year = values.get("publication_date"), values.get("year")
    if published is not None and year is not None and published.year != year:
        problems["publication_date"] = (
            f"The publication date is in {published.year} but the year of publication is {year}: "
            "make them agree."
        )
    price, breaks = values.get("price_pence"), values.get("price_breaks")
    if price is not None and breaks:
        above = next((b for b in breaks if b.price_pence >= price), None)
        if above is not None:
            problems["price_breaks"] = (
                f"The price from {above.min_quantity} copies ({format_pence(above.price_pence)}) "
                f"must be lower than the price of one copy ({format_pence(price)})."
            )
    if (
        values.get("publishing_status") == codes.FORTHCOMING
        and "publication_date" in values
        and published is None
    ):
        problems["publication_date"] = (
            "A forthcoming title needs its publication date, for readers who pre-order it "
            "(and ONIX requires one)."
        )
    return problems


def check_details(values: dict) -> dict[str, str]:
    """What is wrong with each field of ``values`` (a name from ``CHECKS`` to its value), as
    ``{name: message}``; empty when all is well. A ``PublicationDetails`` checks as a whole,
    fields that must agree (``check_together``) included."""
    if isinstance(values, PublicationDetails):
        values = {name: getattr(values, name) for name in DETAIL_NAMES}
    problems = {}
    for name, value in values.items():
        try:
            check(name, value)
        except RuleBroken as broken:
            problems[name] = str(broken)
    if not problems:
        problems = check_together(values)
    return problems
