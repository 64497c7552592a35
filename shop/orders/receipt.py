"""The receipt of a paid order, as a PDF (fpdf2, with DejaVu Sans embedded so any name or title
prints as typed): a VAT receipt when the seller has a VAT number, a plain receipt otherwise.

The receipt number is the order reference: one receipt per order (references are given when a
checkout starts, so checkouts never paid leave gaps between receipt numbers). It shows the
seller, the date paid (the tax point, and the receipt's date: every download of it is the
same), the buyer, every line with its quantity and unit price, the postage, the totals,
Stripe's payment reference, and every refund made since, so a receipt downloaded after a
refund tells the whole story. With a VAT number, each line also has its VAT rate: printed
books are zero-rated in the UK and postage charged with them follows the goods, so every rate
is 0%, and the receipt says why. A seller not registered for VAT shows no rates at all.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shop.money import format_pence
from shop.orders.models import Order
from shop.seller import Seller
from shop.timeutil import local, utcnow

FONTS = Path(__file__).resolve().parent.parent / "fonts"
FONT = "DejaVu"
VAT_RATE = "0%"
ZERO_RATING = (
    "Printed books are zero-rated for VAT in the UK (HMRC VAT Notice 701/10), and postage "
    "charged with them follows the rate of the goods (VAT Notice 700/24), so every line "
    "carries VAT at 0% and no VAT is due."
)
REFUND_STATES = {"succeeded": "refunded", "pending": "pending", "failed": "failed",
                 "canceled": "cancelled", "requires_action": "waiting"}


def receipt_number(order: Order) -> str:
    return order.reference or ""


def _date(moment: datetime | None) -> str:
    return local(moment).strftime("%-d %B %Y") if moment else ""


class _Receipt(FPDF):
    def __init__(self, footer_text: str):
        super().__init__(format="A4")
        self.footer_text = footer_text
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(18, 18, 18)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.footer_text, align="C")

    def line_of(self, text: str, size: float = 10, bold: bool = False, height: float = 5.5) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def build_receipt(order: Order, seller: Seller, region_label: str, now: datetime | None = None) -> bytes:
    """The receipt of ``order`` (which must be paid) as PDF bytes."""
    if order.paid_at is None:
        raise ValueError(f"order {order.reference} is not paid: it has no receipt")
    now = now or utcnow()
    title = "VAT receipt" if seller.vat_number else "Receipt"
    pdf = _Receipt(f"{seller.name} · {title} {receipt_number(order)}")
    pdf.set_title(f"{title} {receipt_number(order)}")
    pdf.set_author(seller.name)
    pdf.set_creation_date(now)
    pdf.add_page()

    pdf.line_of(title, size=18, bold=True, height=9)
    pdf.ln(2)
    pdf.line_of(seller.name, bold=True)
    pdf.line_of("\n".join(seller.address_lines))
    contact = f"Email {seller.email}" + (f" · Telephone {seller.phone}" if seller.phone else "")
    pdf.line_of(contact)
    if seller.vat_number:
        pdf.line_of(f"VAT registration number: {seller.vat_number}")
    if seller.registration:
        pdf.line_of(seller.registration)
    pdf.ln(4)

    invoice = order.invoice
    facts = [
        ("Receipt number", receipt_number(order)),
        ("Order reference", order.reference or ""),
        *([("Invoice number", invoice.number or "—"), ("Purchase order", invoice.po_number)] if invoice else []),
        # An invoice's tax point is its date (issued before payment); a card sale's, its payment.
        *([("Invoice date" + (" (tax point)" if seller.vat_number else ""), _date(invoice.finalized_at)),
           ("Date paid", _date(order.paid_at))] if invoice else
          [("Date paid (tax point)" if seller.vat_number else "Date paid", _date(order.paid_at))]),
    ]
    for label, value in facts:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(50, 5.5, label)
        pdf.set_font(FONT, "", 10)
        pdf.cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    pdf.line_of("Sold to", bold=True)
    if invoice is not None:
        pdf.line_of(", ".join(invoice.billing_address_lines))
    buyer = [order.customer_name or "", order.customer_email or ""]
    pdf.line_of("\n".join(part for part in buyer if part) or "—")
    if order.shipping_address_lines:
        pdf.line_of("Delivered to: " + ", ".join(order.shipping_address_lines))
    pdf.ln(4)

    vat = bool(seller.vat_number)
    # (item, qty, unit price, amount), with the VAT rate and VAT between the last two on a VAT receipt
    items = [(f"{line.title}\nISBN {line.isbn}", str(line.quantity), format_pence(line.unit_price_pence),
              format_pence(line.line_total_pence)) for line in order.lines]
    items.append((f"Postage to {region_label}", "1", format_pence(order.postage_pence),
                  format_pence(order.postage_pence)))
    rows: list[tuple[str, ...]]
    if vat:
        rows = [("Item", "Qty", "Unit price", "VAT rate", "VAT", "Amount")]
        rows += [(item, qty, unit, VAT_RATE, format_pence(0), amount) for item, qty, unit, amount in items]
        widths: tuple[int, ...] = (70, 12, 24, 18, 18, 24)
    else:
        rows = [("Item", "Qty", "Unit price", "Amount"), *items]
        widths = (106, 12, 24, 24)
    pdf.set_font(FONT, "", 9)
    with pdf.table(
        col_widths=widths,
        text_align=("LEFT",) + ("RIGHT",) * (len(widths) - 1),
        line_height=5,
        first_row_as_headings=True,
    ) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.ln(3)

    paid = order.amount_charged_pence if order.amount_charged_pence is not None else order.total_pence
    discount = [(f"Promotion code {order.promotion_code or ''}".strip(), "−" + format_pence(order.discount_pence))]
    totals = [
        ("Subtotal", format_pence(order.subtotal_pence)),
        ("Postage", format_pence(order.postage_pence)),
        *(discount if order.discount_pence else []),
        *([("VAT at 0%", format_pence(0))] if vat else []),
        # Stripe charged another sum than the lines add up to (staff were told): show both.
        *([("Order total", format_pence(order.payable_pence))] if order.amount_mismatch else []),
        ("Total paid", format_pence(paid)),
    ]
    if order.refunded_pence:
        totals += [("Refunded", "−" + format_pence(order.refunded_pence)),
                   ("Net paid", format_pence(max(paid - order.refunded_pence, 0)))]
    for label, value in totals:
        pdf.set_font(FONT, "B" if label in ("Total paid", "Net paid") else "", 10)
        pdf.cell(150, 6, label, align="R")
        pdf.cell(0, 6, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    if vat:
        pdf.line_of(ZERO_RATING, size=9, height=4.5)
        pdf.ln(3)

    pdf.line_of("Payment", bold=True)
    if invoice is not None:
        pdf.line_of(f"Invoice {invoice.number or '—'} paid on {_date(order.paid_at)}"
                    f" ({(invoice.paid_by or 'through Stripe').lower()})."
                    + (f" Payment reference: {order.payment_intent_id}." if order.payment_intent_id else ""))
    else:
        pdf.line_of(f"Paid through Stripe on {_date(order.paid_at)}. "
                    f"Payment reference: {order.payment_intent_id or '—'}.")
    refunds: list[Any] = list(order.refunds)
    if refunds:
        pdf.ln(3)
        pdf.line_of("Refunds", bold=True)
        for refund in refunds:
            state = REFUND_STATES.get(refund.status, refund.status)
            pdf.line_of(f"{_date(refund.created_at)}: {format_pence(refund.amount_pence)} {state}"
                        + (f" (Stripe reference {refund.stripe_refund_id})" if refund.stripe_refund_id else ""))
    return bytes(pdf.output())
