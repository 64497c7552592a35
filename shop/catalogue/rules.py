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
from urllib.parse import urlsplit

from shop.money import format_pence

MIN_YEAR = 1800
YEARS_AHEAD = 2  # forthcoming titles are announced ahead
MAX_PAGES = 10_000
MAX_STOCK = 1_000_000
MAX_PENCE = 999_999_999  # money.parse_pounds' ceiling; fits a 32-bit column
MAX_SUMMARY = 20_000
# Text limits: the columns' lengths (catalogue.models).
MAX_LENGTH = {"title": 300, "subtitle": 300, "publisher": 200, "pdf_url": 500, "cover_path": 500}
NAMES = {
    "title": "title", "subtitle": "subtitle", "publisher": "publisher",
    "pdf_url": "PDF link", "cover_path": "cover path", "summary": "summary",
}


class RuleBroken(ValueError):
    """A value the catalogue does not accept; ``str()`` says why and what to do."""


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
        raise RuleBroken("The price must be above £0.00.")
    if pence > MAX_PENCE:
        raise RuleBroken(f"That price is too large: the most is {format_pence(MAX_PENCE)}.")


def check_stock(copies: int) -> None:
    if copies < 0:
        raise RuleBroken("Stock cannot be negative: enter 0 or more copies.")
    if copies > MAX_STOCK:
        raise RuleBroken(f"That is more than the {MAX_STOCK:,} copies we could hold.")


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
}


def check(name: str, value) -> None:
    """Raise ``RuleBroken`` if ``value`` is not acceptable for the field ``name``."""
    CHECKS[name](value)


def check_details(values: dict) -> dict[str, str]:
    """What is wrong with each field of ``values`` (a name from ``CHECKS`` to its value), as
    ``{name: message}``; empty when all is well. A ``PublicationDetails`` checks as a whole."""
    if isinstance(values, PublicationDetails):
        values = {name: getattr(values, name) for name in DETAIL_NAMES}
    problems = {}
    for name, value in values.items():
        try:
            check(name, value)
        except RuleBroken as broken:
            problems[name] = str(broken)
    return problems
