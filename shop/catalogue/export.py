"""Catalogue files out: every publication as CSV, in the format the CSV import reads back."""

import csv
from pathlib import Path

from sqlalchemy import select

from shop.catalogue.imports.csv import COLUMNS
from shop.catalogue.models import Publication
from shop.extensions import db
from shop.money import decimal_pounds
from shop.spreadsheet import defuse


def write_csv(path: str | Path) -> int:
    """Write every publication, ordered by title, in the format ``read_csv`` reads (UTF-8 with a
    BOM, so Excel shows £ and accents; price as ``8.50``; text defused against spreadsheet
    formulas, which the import undoes). Returns how many were written."""
    statement = select(Publication).order_by(Publication.title, Publication.isbn)
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for p in db.session.scalars(statement):
            writer.writerow(
                defuse(value)
                for value in (p.isbn, p.title, p.subtitle or "", p.publisher, p.year, p.pages, decimal_pounds(p.price_pence), p.stock, p.summary, p.pdf_url or "", p.cover_path or "")
            )
            count += 1
    return count
