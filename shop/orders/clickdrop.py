"""Royal Mail Click & Drop: orders out as a CSV for its spreadsheet import, tracking numbers in
from its export.

The import's column names are those of Royal Mail's "Order import spreadsheet field
specifications" (Click & Drop help centre), one table here (``EXPORT_COLUMNS``); Click & Drop
matches them on import, or staff map them once in its import settings. The export's names could
not be confirmed from a published specification, so the tracking import accepts each of the
names in ``REFERENCE_HEADERS`` and ``TRACKING_HEADERS``, in any case and spacing."""

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from shop.addresses import country_name
from shop.errors import ShopError
from shop.extensions import db
from shop.money import decimal_pounds
from shop.orders.batch import BatchResult, dispatch_batch, packable_ids, why_not_packable
from shop.orders.models import MAX_TRACKING, Order
from shop.spreadsheet import defuse
from shop.timeutil import local

CARRIER = "Royal Mail"
HOME_COUNTRY = "GB"

# Royal Mail's formats by weight, lightest first: (up to grams, package size). Large letters
# go up to 750 g in the UK (and 25 mm thick: a few reports); abroad, books and reports go as
# "printed papers" up to 5 kg. Anything heavier is a parcel.
PACKAGE_SIZES = {
    "uk": ((750, "large letter"),),
    "international": ((5000, "printed papers"),),
}
HEAVIER = "parcel"


def package_size(grams: int, country: str | None) -> str:
    """Click & Drop's package size for a parcel of ``grams`` going to ``country`` (ISO code)."""
    zone = "uk" if (country or HOME_COUNTRY).upper() == HOME_COUNTRY else "international"
    for limit, size in PACKAGE_SIZES[zone]:
        if grams <= limit:
            return size
    return HEAVIER


@dataclass(frozen=True)
class Postage:
    """What the export needs from configuration."""

    copy_grams: int
    packaging_grams: int
    service_uk: str
    service_international: str

    @classmethod
    def from_config(cls, config: Any) -> "Postage":
        return cls(
            config["COPY_WEIGHT_GRAMS"], config["PACKAGING_WEIGHT_GRAMS"],
            config["CLICK_DROP_SERVICE_UK"], config["CLICK_DROP_SERVICE_INTERNATIONAL"],
        )

    def grams(self, order: Order) -> int:
        return order.copies * self.copy_grams + self.packaging_grams

    def service(self, order: Order) -> str:
        home = (order.ship_country or HOME_COUNTRY).upper() == HOME_COUNTRY
        return self.service_uk if home else self.service_international


def _kilograms(grams: int) -> str:
    return f"{grams / 1000:.3f}"  # Click & Drop: kilograms, at most three decimals


def _pounds(pence: int | None) -> str:
    return "" if pence is None else decimal_pounds(pence)


# One row per order, in Click & Drop's order-import layout: (column, value of the order).
EXPORT_COLUMNS: tuple[tuple[str, Callable[[Order, Postage], object]], ...] = (
    ("Order reference", lambda o, p: o.reference),
    ("Date", lambda o, p: local(o.paid_at or o.created_at).strftime("%d/%m/%y")),
    ("Full name", lambda o, p: o.ship_name or o.customer_name),
    ("Address Line 1", lambda o, p: o.ship_line1),
    ("Address Line 2", lambda o, p: o.ship_line2),
    ("City", lambda o, p: o.ship_city),
    ("County", lambda o, p: o.ship_state),
    ("Postcode", lambda o, p: o.ship_postal_code),
    ("Country", lambda o, p: country_name(o.ship_country)),
    ("Email", lambda o, p: o.customer_email),
    ("Weight", lambda o, p: _kilograms(p.grams(o))),
    ("Package Size", lambda o, p: package_size(p.grams(o), o.ship_country)),
    ("Service code", lambda o, p: p.service(o)),
    ("Sub-total", lambda o, p: _pounds(o.subtotal_pence)),
    ("Shipping Cost", lambda o, p: _pounds(o.postage_pence)),
    ("Total", lambda o, p: _pounds(o.total_pence)),
    ("Currency Code", lambda o, p: (o.currency or "gbp").upper()),
)
EXPORT_HEADER = [name for name, _ in EXPORT_COLUMNS]


def export_csv(orders: list[Order], postage: Postage) -> str:
    """The CSV text for Click & Drop's import, one row per order, in the order given. What
    customers typed (names, addresses) is defused as in every export (``shop.spreadsheet``):
    staff often open the file in a spreadsheet before uploading it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_HEADER)
    for order in orders:
        writer.writerow(
            "" if value is None else defuse(value)
            for value in (get(order, postage) for _, get in EXPORT_COLUMNS)
        )
    return buffer.getvalue()


# --- tracking numbers in -------------------------------------------------------------------

REFERENCE_HEADERS = ("order reference", "reference", "channel reference", "order number")
TRACKING_HEADERS = ("tracking number", "tracking no", "tracking", "tracking code")
MAX_ROWS = 5000
# Excel turns a long number into "1.23457E+12": the digits are lost, so say so.
MANGLED = re.compile(r"^\d+(\.\d+)?[eE]\+\d+$")


class TrackingFileError(ShopError):
    """The file as a whole cannot be used: nothing was imported."""


@dataclass(frozen=True)
class Row:
    line: int  # in the file, the header being line 1
    reference: str
    tracking_number: str


@dataclass
class TrackingReport:
    """What an import did (or, checked only, would do), row by row."""

    matched: list[Row] = field(default_factory=list)  # dispatched now with this number
    unknown: list[Row] = field(default_factory=list)  # no order of ours has this reference
    already_dispatched: list[tuple[Row, str | None]] = field(default_factory=list)  # the number it has
    cannot_dispatch: list[tuple[Row, str]] = field(default_factory=list)  # refunded, unpaid…
    problems: list[str] = field(default_factory=list)  # rows that stop the whole import
    applied: bool = False
    batch: BatchResult | None = None

    @property
    def rows(self) -> int:
        return len(self.matched) + len(self.unknown) + len(self.already_dispatched) + len(self.cannot_dispatch)


def _header_index(header: list[str], names: tuple[str, ...]) -> int | None:
    normalised = [" ".join(cell.lower().replace("_", " ").split()) for cell in header]
    for name in names:
        if name in normalised:
            return normalised.index(name)
    return None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_tracking_file(data: bytes) -> tuple[list[Row], list[str]]:
    """The rows of a Click & Drop export that carry a reference, and the problems found.
    Raises ``TrackingFileError`` for a file that cannot be read at all."""
    text = _decode(data)
    if not text.strip():
        raise TrackingFileError("That file is empty.")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except csv.Error as error:
        raise TrackingFileError(f"That file is not a CSV file Click & Drop wrote: {error}.") from None
    ref_at = _header_index(header, REFERENCE_HEADERS)
    tracking_at = _header_index(header, TRACKING_HEADERS)
    if ref_at is None or tracking_at is None:
        raise TrackingFileError(
            "That file has no “Order reference” and “Tracking number” columns: export the "
            "orders from Click & Drop as CSV, with those two columns in it."
        )
    rows: list[Row] = []
    problems: list[str] = []
    seen: dict[str, Row] = {}
    try:
        for line, cells in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise TrackingFileError(f"That file has more than {MAX_ROWS:,} rows: split it.")
            if not any(cell.strip() for cell in cells):
                continue
            reference = (cells[ref_at] if ref_at < len(cells) else "").strip().upper()
            number = "".join((cells[tracking_at] if tracking_at < len(cells) else "").split())
            if not reference:
                problems.append(f"Line {line}: no order reference.")
                continue
            if not number:
                problems.append(f"Line {line}: {reference} has no tracking number.")
                continue
            if MANGLED.match(number):
                problems.append(
                    f"Line {line}: the tracking number of {reference} reads {number}: a spreadsheet "
                    "turned it into a rounded number. Use the file as Click & Drop exported it."
                )
                continue
            if len(number) > MAX_TRACKING:
                problems.append(f"Line {line}: the tracking number of {reference} is too long.")
                continue
            row = Row(line, reference, number)
            earlier = seen.get(reference)
            if earlier is not None:
                if earlier.tracking_number != number:
                    problems.append(
                        f"Line {line}: {reference} appears again (line {earlier.line}) with another "
                        "tracking number."
                    )
                continue
            seen[reference] = row
            rows.append(row)
    except csv.Error as error:
        raise TrackingFileError(f"That file could not be read as CSV: {error}.") from None
    return rows, problems


def import_tracking(data: bytes, actor: str, *, apply: bool) -> TrackingReport:
    """Match a Click & Drop export's rows to our orders by reference and, with ``apply``,
    dispatch every matched order with its tracking number (carrier Royal Mail) in one batch.

    All or nothing: any problem row (no tracking number, a number a spreadsheet rounded, one
    reference with two numbers) stops the whole import, as does an order that changed between
    matching and dispatching. Unknown references, orders already dispatched and orders that
    cannot be dispatched (refunded, unpaid) are reported and left alone. Flushes; the caller
    commits, or rolls back when ``apply`` is false or the report has problems.
    """
    rows, problems = read_tracking_file(data)
    report = TrackingReport(problems=problems)
    orders = {
        order.reference: order
        for order in db.session.scalars(select(Order).where(Order.reference.in_([row.reference for row in rows])))
    } if rows else {}
    allowed = packable_ids([order.id for order in orders.values()])
    for row in rows:
        order = orders.get(row.reference)
        if order is None:
            report.unknown.append(row)
        elif order.dispatched_at is not None:
            report.already_dispatched.append((row, order.tracking_number))
        elif order.id not in allowed:
            report.cannot_dispatch.append((row, why_not_packable(order)))
        else:
            report.matched.append(row)
    if not apply or report.problems or not report.matched:
        return report
    batch = dispatch_batch(
        [orders[row.reference] for row in report.matched], CARRIER,
        {row.reference: row.tracking_number for row in report.matched}, actor,
    )
    if batch.left_alone:
        report.problems += [f"{item.reference} changed meanwhile ({item.reason})." for item in batch.left_alone]
        return report
    report.batch = batch
    report.applied = True
    return report
