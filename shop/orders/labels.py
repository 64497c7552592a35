"""Address labels as a PDF for common A4 label sheets (fpdf2), one label per order.

Sheet geometry is in millimetres, from the makers' published templates. The sheet is chosen in
configuration (``LABEL_SHEET``); printing must be at "actual size" for the labels to line up.
"""

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

from shop.addresses import country_name
from shop.errors import ShopError

HOME_COUNTRY = "GB"


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: int
    rows: int
    width: float  # of one label
    height: float
    top: float  # page edge to the first label
    left: float
    column_pitch: float  # one label's left edge to the next one's
    row_pitch: float

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows


SHEETS = {
    sheet.name: sheet
    for sheet in (
        Sheet("L7160", 3, 7, 63.5, 38.1, 15.15, 7.25, 66.04, 38.1),  # 21 a sheet
        Sheet("L7161", 3, 6, 63.5, 46.6, 8.8, 7.25, 66.04, 46.6),  # 18 a sheet
        Sheet("L7162", 2, 8, 99.1, 33.9, 12.9, 4.65, 101.6, 33.9),  # 16 a sheet
        Sheet("L7163", 2, 7, 99.1, 38.1, 15.15, 4.65, 101.6, 38.1),  # 14 a sheet
    )
}
# A TrueType font with more than Latin-1 (names and towns from anywhere): the one the shop ships
# (shop/fonts, as the receipt uses), else the system's; the first that exists.
FONT_CANDIDATES = (
    str(Path(__file__).resolve().parent.parent / "fonts" / "DejaVuSans.ttf"),
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
PADDING = 3.0  # mm inside each label
LARGEST, SMALLEST = 11.0, 6.5  # font sizes, points
POINT = 0.3528  # mm


class LabelError(ShopError):
    pass


def sheet_named(name: str) -> Sheet:
    sheet = SHEETS.get((name or "").upper())
    if sheet is None:
        raise LabelError(f"Unknown label sheet {name!r}; LABEL_SHEET may be one of {', '.join(SHEETS)}.")
    return sheet


def address_lines(order) -> list[str]:
    """The lines of a label: name, street, town, county, postcode; the country only abroad."""
    abroad = (order.ship_country or HOME_COUNTRY).upper() != HOME_COUNTRY
    parts = [
        order.ship_name or order.customer_name, order.ship_line1, order.ship_line2, order.ship_city,
        order.ship_state, order.ship_postal_code,
        (country_name(order.ship_country) or "").upper() if abroad else None,
    ]
    return [" ".join(part.split()) for part in parts if part and part.strip()]


# Letters with no Latin-1 form and no accent to take off.
_PLAIN_LETTERS = str.maketrans("ŁłĐđĦħŦŧŒœ", "LlDdHhTtEe")


def _latin1(text: str) -> str:
    """For the built-in font: a letter outside Latin-1 loses its accent (Ż → Z, Ł → L)."""
    kept = []
    for ch in text.translate(_PLAIN_LETTERS):
        if ord(ch) < 256:
            kept.append(ch)
        else:
            kept.extend(part for part in unicodedata.normalize("NFKD", ch) if ord(part) < 256)
    return "".join(kept)


class _Labels:
    def __init__(self, sheet: Sheet, font_path: str | None):
        self.sheet = sheet
        self.pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(0, 0, 0)
        self.pdf.set_creator("print shop desk")
        font = font_path or next((path for path in FONT_CANDIDATES if Path(path).exists()), None)
        if font:
            self.pdf.add_font("Label", "", font)
            self.family, self.text = "Label", (lambda text: text)
        else:
            self.family, self.text = "Helvetica", _latin1

    def _fit(self, line: str, size: float, width: float) -> str:
        self.pdf.set_font(self.family, size=size)
        if self.pdf.get_string_width(line) <= width:
            return line
        while line and self.pdf.get_string_width(line + "…") > width:
            line = line[:-1]
        return line.rstrip() + "…"

    def _size_for(self, lines: list[str], width: float, height: float) -> float:
        size = LARGEST
        while size > SMALLEST:
            self.pdf.set_font(self.family, size=size)
            tall_enough = len(lines) * size * POINT * 1.25 <= height
            if tall_enough and all(self.pdf.get_string_width(line) <= width for line in lines):
                break
            size -= 0.5
        return size

    def add(self, index: int, order) -> None:
        sheet = self.sheet
        slot = index % sheet.per_sheet
        if slot == 0:
            self.pdf.add_page()
        x = sheet.left + (slot % sheet.columns) * sheet.column_pitch + PADDING
        y = sheet.top + (slot // sheet.columns) * sheet.row_pitch + PADDING
        width, height = sheet.width - 2 * PADDING, sheet.height - 2 * PADDING
        reference_height = 6 * POINT * 1.3
        lines = [self.text(line) for line in address_lines(order)]
        size = self._size_for(lines, width, height - reference_height)
        step = size * POINT * 1.25
        for number, line in enumerate(lines):
            if (number + 1) * step > height - reference_height:
                break
            self.pdf.set_xy(x, y + number * step)
            self.pdf.cell(width, step, self._fit(line, size, width))
        self.pdf.set_font(self.family, size=6)
        self.pdf.set_xy(x, y + height - reference_height)
        self.pdf.cell(width, reference_height, self.text(order.reference or ""), align="R")


def labels_pdf(orders: list, sheet_name: str, font_path: str | None = None) -> bytes:
    """One label per order, filling sheets left to right, top to bottom; a page per sheet."""
    labels = _Labels(sheet_named(sheet_name), font_path)
    for index, order in enumerate(orders):
        labels.add(index, order)
    if not orders:
        labels.pdf.add_page()
    return bytes(labels.pdf.output())
