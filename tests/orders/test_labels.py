"""Address labels: the sheet layouts, one label per order, text that fits, and the fallback
when no Unicode font is installed."""

import io
from pathlib import Path
from types import SimpleNamespace

import pypdf
import pytest

from shop.orders import labels
from shop.orders.labels import SHEETS, LabelError, address_lines, labels_pdf


def order(n: int, **overrides):
    fields = dict(ship_name=f"Reader {n}", customer_name=None, ship_line1=f"{n} Ward Street", ship_line2=None,
                  ship_city="Leeds", ship_state=None, ship_postal_code="LS1 1AA", ship_country="GB",
                  reference=f"KF-2026-{n:06d}")
    fields.update(overrides)
    return SimpleNamespace(**fields)


def text_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize("name, per_sheet", [("L7160", 21), ("L7161", 18), ("L7162", 16), ("L7163", 14)])
def test_each_sheet_takes_its_number_of_labels_a_page(name, per_sheet):
    sheet = SHEETS[name]
    assert sheet.per_sheet == per_sheet
    # the labels fit on A4 (210 × 297 mm)
    assert sheet.left + (sheet.columns - 1) * sheet.column_pitch + sheet.width <= 210
    assert sheet.top + (sheet.rows - 1) * sheet.row_pitch + sheet.height <= 297
    pages = text_of(labels_pdf([order(n) for n in range(per_sheet + 1)], name))
    assert len(pages) == 2
    assert "Reader 0" in pages[0] and f"Reader {per_sheet - 1}" in pages[0] and f"Reader {per_sheet}" in pages[1]


def test_the_country_is_written_only_abroad_and_long_lines_are_shortened():
    lines = address_lines(order(1, ship_country="IE", ship_state="Co. Dublin"))
    assert lines == ["Reader 1", "1 Ward Street", "Leeds", "Co. Dublin", "LS1 1AA", "IRELAND"]
    assert address_lines(order(1))[-1] == "LS1 1AA"
    [page] = text_of(labels_pdf([order(2, ship_line1="Flat 1, " + "Very Long Building Name " * 6)], "L7160"))
    assert "…" in page and "KF-2026-000002" in page


def test_names_beyond_latin_1_print_with_the_unicode_font_and_degrade_without_it(monkeypatch):
    name = "Łukasz Żółć"
    assert Path(labels.FONT_CANDIDATES[0]).exists()  # shipped in shop/fonts
    [page] = text_of(labels_pdf([order(3, ship_name=name)], "L7160"))
    assert name in page
    monkeypatch.setattr(labels, "FONT_CANDIDATES", ())
    [page] = text_of(labels_pdf([order(3, ship_name=name)], "L7160"))
    assert "Lukasz Zólc" in page  # Latin-1 letters kept, others without their accents


def test_an_unknown_sheet_is_a_clear_error():
    with pytest.raises(LabelError, match="L7160"):
        labels_pdf([order(1)], "A4-99")
