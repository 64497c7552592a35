"""Catalogue files out: every publication as CSV, in the format the CSV import reads back. (ONIX
for Books goes out through ``catalogue.onix_export``.)"""

import csv
from pathlib import Path

from sqlalchemy import func, select

from shop.catalogue.imports.csv import COLUMNS
from shop.catalogue.models import Publication
from shop.catalogue.rules import format_price_breaks
from shop.extensions import db
from shop.money import decimal_pounds
from shop.progress import Advance, nothing
from shop.spreadsheet import defuse


def count_publications() -> int:
    return db.session.scalar(select(func.count()).select_from(Publication)) or 0


def write_csv(path: str | Path, advance: Advance = nothing) -> int:
    """Write every publication, ordered by title, in the format ``read_csv`` reads (UTF-8 with a
    BOM, so Excel shows £ and accents; price as ``8.50``; dates as 2027-03-01; contributors as
    ``A01:Chris Ham;B01:Anna Charles``; volume prices as ``10:7.50;50:6.00``; text defused against spreadsheet formulas, which the
    import undoes), calling ``advance(1)`` after each. Returns how many were written."""
    statement = select(Publication).order_by(Publication.title, Publication.isbn)
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for p in db.session.scalars(statement.execution_options(yield_per=500)):
            writer.writerow(
                defuse(value)
                for value in (
                    p.isbn, p.title, p.subtitle or "", p.publisher, p.year, p.pages,
                    decimal_pounds(p.price_pence), p.stock, p.summary, p.pdf_url or "", p.cover_path or "",
                    p.publishing_status, p.availability,
                    p.publication_date.isoformat() if p.publication_date else "",
                    p.expected_ship_date.isoformat() if p.expected_ship_date else "",
                    ";".join(c.coded() for c in p.contributors), ";".join(p.subjects),
                    format_price_breaks(p.price_breaks),
                )
            )
            count += 1
            advance(1)
    return count
