"""The sandbox's Stripe Billing and discounts: customers, invoice items, invoices (create,
finalize, send, pay, void, mark uncollectible, delete a draft, retrieve, list), a hosted page
per invoice, coupons and promotion codes, and the ``invoice.*`` events.

Objects are stored in the latest API version's shape (stripe-python 16.1.0's resource classes,
``stripe/_invoice.py`` and its neighbours). Keys starting with ``_`` are the sandbox's own
bookkeeping (an invoice's payments, its hosted page token, how often it was sent); they are
never rendered (``versions.render`` drops them). ``payments`` and ``amount_paid_off_stripe`` are
"includable", as at Stripe: absent unless a request expands them (``app.expand``).

What Stripe does and the sandbox does the same way:

- An invoice is created as a ``draft``; invoice items join it when created with its id (or,
  with ``pending_invoice_items_behavior=include``, the customer's pending items join it at
  creation; the default is ``exclude``). Its ``number``, ``hosted_invoice_url`` and
  ``invoice_pdf`` are assigned when it is finalized (``open``), its number from the customer's
  ``invoice_prefix`` and ``next_invoice_sequence``.
- ``collection_method=send_invoice`` takes ``days_until_due`` (or ``due_date``); either is
  refused with ``charge_automatically``. ``auto_advance`` defaults to false for invoices made
  through the API; finalized with it true, a ``send_invoice`` invoice is emailed at once.
- Statuses move draft -> open -> paid | void | uncollectible; uncollectible -> paid | void. A
  zero total is paid when finalized.
- ``pay`` with ``paid_out_of_band`` records a payment made outside Stripe; without it, Stripe
  would charge the customer's saved payment method, which sandbox customers never have (402).
  The hosted page takes a card (4242 pays, 0002 is declined: ``invoice.payment_failed``);
  the control API also marks a bank transfer received (a ``customer_balance`` payment).
- ``invoice.overdue`` is sent by Stripe only from a dashboard Automation (since
  2024-09-30.acacia); the control API stands in for one.
- Promotion codes name a coupon (``promotion.coupon``, 2025-09-30.clover's shape); a Checkout
  Session with ``allow_promotion_codes`` takes one code, checked as Stripe checks it (active,
  not expired, redemptions left, minimum amount, the coupon's currency); the discount comes off
  the items, never the shipping.
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import Obj, SandboxState

_UPPER = string.ascii_uppercase + string.digits
#: Days until due when an invoice to be sent names neither (the account's default terms).
DEFAULT_DAYS_UNTIL_DUE = 30
#: The sandbox's bank details for invoices paid by transfer (Stripe gives each customer a
#: virtual account number).
TRANSFER_SORT_CODE = "10-88-00"
#: What invoices may be paid with here, unless one says otherwise: a card on the hosted page, or
#: a bank transfer (Stripe's customer balance, funded by transfer to the customer's account).
INVOICE_METHODS = ("card", "customer_balance")
#: Lines an invoice shows inline, as Stripe does (the rest through its lines list).
INLINE_LINES = 10
INVOICE_STATUS_MOVES = {
    "draft": {"open", "paid", "deleted"},
    "open": {"paid", "void", "uncollectible"},
    "uncollectible": {"paid", "void"},
}


def _now() -> int:
    return int(time.time())


def _error(status: int, message: str, **fields: Any):
    from .state import SandboxError

    return SandboxError(status, message, **fields)


class BillingMixin:
    """Customers, invoice items, invoices, coupons and promotion codes; mixed into
    ``SandboxState``, whose lock, objects and ``emit`` it uses."""

    # -- customers ----------------------------------------------------------------------

    def create_customer(self: SandboxState, fields: Obj) -> Obj:
        from .state import new_id

        with self.lock:
            customer = {
                "id": new_id("cus_", 14), "object": "customer", "address": None, "balance": 0,
                "business_name": None, "created": _now(), "currency": None, "customer_account": None,
                "default_source": None, "delinquent": False, "description": None, "discount": None,
                "email": None, "individual_name": None,
                "invoice_prefix": "".join(secrets.choice(_UPPER) for _ in range(8)),
                "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                                     "rendering_options": None},
                "livemode": False, "metadata": {}, "name": None, "next_invoice_sequence": 1, "phone": None,
                "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
            }
            customer.update(fields)
            self.objects["customer"][customer["id"]] = customer
            self.emit("customer.created", customer)
            return copy.deepcopy(customer)

    def update_customer(self: SandboxState, cid: str, changes: Obj) -> Obj:
        with self.lock:
            customer = self._get("customer", cid)
            previous = {key: copy.deepcopy(customer.get(key)) for key in changes}
            for key, value in changes.items():
                if key == "metadata":
                    merged = {**customer["metadata"], **(value or {})}
                    customer["metadata"] = {k: v for k, v in merged.items() if v != ""}
                else:
                    customer[key] = value
            self.emit("customer.updated", customer, previous)
            return copy.deepcopy(customer)

    # -- invoice items --------------------------------------------------------------------

    def create_invoice_item(self: SandboxState, *, customer: str, currency: str, description: str | None,
                            quantity: int, unit_amount: Decimal | None, amount: int | None,
                            invoice: str | None, metadata: Obj | None) -> Obj:
        """A pending invoice item of ``customer``, or a line of ``invoice`` (a draft of the
        same customer). ``amount`` is the whole item's; else ``unit_amount`` (a decimal in
        minor units) × ``quantity``, rounded to a whole minor unit."""
        from .state import new_id

        with self.lock:
            self._get("customer", customer, param="customer")
            target = self._get("invoice", invoice, param="invoice") if invoice else None
            if target is not None:
                if target["status"] != "draft":
                    raise _error(400, f"You can only add invoice items to draft invoices; {invoice} is "
                                 f"{target['status']}.", param="invoice")
                if target["customer"] != customer:
                    raise _error(400, "The invoice item and the invoice must belong to the same customer.",
                                 param="invoice")
                if target["currency"] != currency:
                    raise _error(400, f"The invoice item's currency ({currency}) must match the "
                                 f"invoice's ({target['currency']}).", param="currency")
            if amount is None:
                if unit_amount is None:
                    raise _error(400, "You must pass either amount or unit_amount_decimal (or a price).",
                                 param="unit_amount_decimal")
                amount = int((unit_amount * quantity).to_integral_value())
                unit = unit_amount
            else:
                unit = Decimal(amount) / quantity
            ts = _now()
            item = {
                "id": new_id("ii_"), "object": "invoiceitem", "amount": amount, "currency": currency,
                "customer": customer, "customer_account": None, "date": ts, "description": description,
                "discountable": True, "discounts": [], "invoice": invoice, "livemode": False,
                "metadata": metadata or {}, "net_amount": amount, "parent": None,
                "period": {"end": ts, "start": ts},
                "pricing": {"price_details": None, "type": "price_details", "unit_amount_decimal": _decimal(unit)},
                "proration": False, "proration_details": {"discount_amounts": []}, "quantity": quantity,
                "quantity_decimal": str(quantity), "tax_rates": [], "test_clock": None,
            }
            self.objects["invoiceitem"][item["id"]] = item
            if target is not None:
                self._add_line(target, item)
            return copy.deepcopy(item)

    def _add_line(self: SandboxState, invoice: Obj, item: Obj) -> None:
        from .state import new_id

        line = {
            "id": new_id("il_"), "object": "line_item", "amount": item["amount"], "currency": item["currency"],
            "description": item["description"], "discount_amounts": [], "discountable": True, "discounts": [],
            "invoice": invoice["id"], "livemode": False, "metadata": copy.deepcopy(item["metadata"]),
            "parent": {"invoice_item_details": {"invoice_item": item["id"], "proration": False,
                                                "proration_details": {"credited_items": None},
                                                "subscription": None},
                       "subscription_item_details": None, "type": "invoice_item_details"},
            "period": copy.deepcopy(item["period"]), "pretax_credit_amounts": [],
            "pricing": copy.deepcopy(item["pricing"]), "quantity": item["quantity"],
            "quantity_decimal": item["quantity_decimal"], "subscription": None, "subtotal": item["amount"],
            "taxes": [],
        }
        invoice["_lines"].append(line)
        self._total(invoice)

    @staticmethod
    def _total(invoice: Obj) -> None:
        """Totals from the lines (no tax, no discount), and the inline first page of lines."""
        subtotal = sum(line["amount"] for line in invoice["_lines"])
        paid = invoice["amount_paid"]
        invoice.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=subtotal,
                       total_excluding_tax=subtotal, amount_due=subtotal,
                       amount_remaining=max(subtotal - paid, 0))
        invoice["lines"] = {"object": "list", "data": copy.deepcopy(invoice["_lines"][:INLINE_LINES]),
                            "has_more": len(invoice["_lines"]) > INLINE_LINES,
                            "total_count": len(invoice["_lines"]), "url": f"/v1/invoices/{invoice['id']}/lines"}

    def invoice_lines(self: SandboxState, iid: str) -> list[Obj]:
        with self.lock:
            return copy.deepcopy(self._get("invoice", iid)["_lines"])

    # -- invoices -------------------------------------------------------------------------

    def create_invoice(self: SandboxState, *, payment_settings: Obj, customer: str, collection_method: str,
                       currency: str,
                       days_until_due: int | None, due_date: int | None, auto_advance: bool,
                       custom_fields: list[Obj] | None, metadata: Obj | None, description: str | None,
                       footer: str | None, shipping_details: Obj | None, include_pending: bool,
                       number: str | None) -> Obj:
        from .state import new_id

        with self.lock:
            self._get("customer", customer, param="customer")
            if collection_method == "send_invoice":
                if days_until_due is None and due_date is None:
                    days_until_due = DEFAULT_DAYS_UNTIL_DUE
            elif days_until_due is not None or due_date is not None:
                field = "days_until_due" if days_until_due is not None else "due_date"
                raise _error(400, f"{field} can only be set when collection_method is send_invoice.",
                             param=field)
            ts = _now()
            if due_date is None and days_until_due is not None:
                due_date = ts + days_until_due * 86400
            invoice: Obj = {
                "id": new_id("in_"), "object": "invoice", "account_country": "GB",
                "account_name": "Stripe sandbox account", "account_tax_ids": None, "amount_due": 0,
                "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": 0, "amount_shipping": 0,
                "application": None, "attempt_count": 0, "attempted": False, "auto_advance": auto_advance,
                "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None,
                                  "provider": None, "status": None},
                "automatically_finalizes_at": ts + 3600 if auto_advance else None,
                "billing_reason": "manual", "collection_method": collection_method, "confirmation_secret": None,
                "created": ts, "currency": currency, "custom_fields": custom_fields or None,
                "customer": customer, "customer_account": None, "customer_address": None,
                "customer_email": None, "customer_name": None, "customer_phone": None,
                "customer_shipping": None, "customer_tax_exempt": "none", "customer_tax_ids": [],
                "default_payment_method": None, "default_source": None, "default_tax_rates": [],
                "description": description, "discounts": [], "due_date": due_date, "effective_at": None,
                "ending_balance": None, "footer": footer, "from_invoice": None, "hosted_invoice_url": None,
                "invoice_pdf": None, "issuer": {"type": "self"}, "last_finalization_error": None,
                "latest_revision": None, "lines": {}, "livemode": False, "metadata": metadata or {},
                "next_payment_attempt": None, "number": number, "on_behalf_of": None, "parent": None,
                "payment_settings": payment_settings,
                "period_end": ts, "period_start": ts, "post_payment_credit_notes_amount": 0,
                "pre_payment_credit_notes_amount": 0, "receipt_number": None, "rendering": None,
                "shipping_cost": None, "shipping_details": shipping_details, "starting_balance": 0,
                "statement_descriptor": None, "status": "draft", "status_details": None,
                "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None,
                                       "paid_at": None, "voided_at": None},
                "subtotal": 0, "subtotal_excluding_tax": 0, "test_clock": None, "threshold_reason": None,
                "total": 0, "total_discount_amounts": [], "total_excluding_tax": 0,
                "total_pretax_credit_amounts": [], "total_taxes": [], "webhooks_delivered_at": ts,
                # The sandbox's own: lines in full, payments, the hosted page token, emails sent.
                "_lines": [], "_payments": [], "_payment_intents": [], "_charges": [], "_paid_off_stripe": 0,
                "_token": secrets.token_urlsafe(18), "_sent": 0,
            }
            self.objects["invoice"][invoice["id"]] = invoice
            if include_pending:
                for item in self.objects["invoiceitem"].values():
                    if item["customer"] == customer and item["invoice"] is None and item["currency"] == currency:
                        item["invoice"] = invoice["id"]
                        self._add_line(invoice, item)
            self._total(invoice)
            self.emit("invoice.created", invoice)
            return copy.deepcopy(invoice)

    def _move(self: SandboxState, invoice: Obj, to: str, action: str) -> None:
        before = invoice["status"]
        if to not in INVOICE_STATUS_MOVES.get(before, set()):
            raise _error(400, f"You can't {action} an invoice whose status is {before}.", param="invoice")
        invoice["status"] = to

    def finalize_invoice(self: SandboxState, iid: str, base_url: str, auto_advance: bool | None = None) -> Obj:
        """Draft -> open: its number, hosted page and PDF; ``invoice.finalized``. Paid at
        once when it comes to nothing."""
        with self.lock:
            invoice = self._get("invoice", iid)
            if invoice["status"] != "draft":
                raise _error(400, "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                             param="invoice")
            customer = self.objects["customer"][invoice["customer"]]
            if auto_advance is not None:
                invoice["auto_advance"] = auto_advance
            ts = _now()
            if invoice["number"] is None:
                invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
                customer["next_invoice_sequence"] += 1
            token = invoice["_token"]
            invoice.update(
                status="open", effective_at=ts, automatically_finalizes_at=None,
                hosted_invoice_url=f"{base_url}/invoice/{token}", invoice_pdf=f"{base_url}/invoice/{token}/pdf",
                customer_email=customer["email"], customer_name=customer["name"],
                customer_address=copy.deepcopy(customer["address"]), customer_phone=customer["phone"],
                customer_shipping=copy.deepcopy(customer["shipping"]), ending_balance=0,
            )
            invoice["status_transitions"]["finalized_at"] = ts
            self.emit("invoice.finalized", invoice)
            if invoice["amount_due"] == 0:
                self._paid(invoice, None, 0)
            elif invoice["auto_advance"] and invoice["collection_method"] == "send_invoice":
                self._send(invoice)
            return copy.deepcopy(invoice)

    def _send(self: SandboxState, invoice: Obj) -> None:
        invoice["_sent"] += 1
        self.emit("invoice.sent", invoice)

    def send_invoice(self: SandboxState, iid: str) -> Obj:
        """Email an invoice to its customer (``invoice.sent``); Stripe sends only finalized
        invoices to be paid by the customer."""
        with self.lock:
            invoice = self._get("invoice", iid)
            if invoice["collection_method"] != "send_invoice":
                raise _error(400, "You can only manually send an invoice if its collection method is "
                             "'send_invoice'.", param="invoice")
            if invoice["status"] == "draft":
                raise _error(400, "You can only send an invoice that has been finalized.", param="invoice")
            if invoice["status"] in ("void", "uncollectible"):
                raise _error(400, f"You can't send an invoice whose status is {invoice['status']}.", param="invoice")
            self._send(invoice)
            return copy.deepcopy(invoice)

    def void_invoice(self: SandboxState, iid: str) -> Obj:
        with self.lock:
            invoice = self._get("invoice", iid)
            self._move(invoice, "void", "void")
            invoice["status_transitions"]["voided_at"] = _now()
            invoice["amount_remaining"] = 0
            self.emit("invoice.voided", invoice)
            return copy.deepcopy(invoice)

    def mark_uncollectible(self: SandboxState, iid: str) -> Obj:
        with self.lock:
            invoice = self._get("invoice", iid)
            if invoice["status"] != "open":
                raise _error(400, f"You can only mark an open invoice uncollectible; this one is "
                             f"{invoice['status']}.", param="invoice")
            self._move(invoice, "uncollectible", "mark uncollectible")
            invoice["status_transitions"]["marked_uncollectible_at"] = _now()
            self.emit("invoice.marked_uncollectible", invoice)
            return copy.deepcopy(invoice)

    def delete_invoice(self: SandboxState, iid: str) -> Obj:
        """Only a draft can be deleted (its items with it)."""
        with self.lock:
            invoice = self._get("invoice", iid)
            if invoice["status"] != "draft":
                raise _error(400, "You can only delete draft invoices; void this one instead.", param="invoice")
            for line in invoice["_lines"]:
                self.objects["invoiceitem"].pop(line["parent"]["invoice_item_details"]["invoice_item"], None)
            del self.objects["invoice"][iid]
            self.emit("invoice.deleted", invoice)
            return {"id": iid, "object": "invoice", "deleted": True}

    def pay_invoice(self: SandboxState, iid: str, *, paid_out_of_band: bool) -> Obj:
        """``POST /v1/invoices/:id/pay``: out of band, or (what sandbox customers can never
        have) their saved payment method."""
        with self.lock:
            invoice = self._get("invoice", iid)
            if invoice["status"] not in ("open", "uncollectible"):
                raise _error(400, f"Invoice is already {invoice['status']}." if invoice["status"] == "paid"
                             else "You can only pay an open or uncollectible invoice.", param="invoice")
            if not paid_out_of_band:
                invoice["attempt_count"] += 1
                invoice["attempted"] = True
                self.emit("invoice.payment_failed", invoice)
                raise _error(402, "This customer has no attached payment source or default payment method.",
                             type="card_error")
            amount = invoice["amount_remaining"]
            invoice["_paid_off_stripe"] += amount
            self._paid(invoice, None, amount)
            return copy.deepcopy(invoice)

    def _paid(self: SandboxState, invoice: Obj, payment_intent: str | None, amount: int,
              charge: str | None = None) -> None:
        """Record a payment of ``amount`` (through ``payment_intent``, or off Stripe) and mark
        the invoice paid: ``invoice.payment_succeeded`` (a payment through Stripe) and
        ``invoice.paid``."""
        from .state import new_id

        ts = _now()
        if payment_intent is not None:
            payment = {
                "id": new_id("inpay_"), "object": "invoice_payment", "amount_paid": amount,
                "amount_requested": amount, "created": ts, "currency": invoice["currency"],
                "invoice": invoice["id"], "is_default": True, "livemode": False,
                "payment": {"payment_intent": payment_intent, "type": "payment_intent"},
                "status": "paid", "status_transitions": {"canceled_at": None, "paid_at": ts},
            }
            self.objects["invoice_payment"][payment["id"]] = payment
            invoice["_payments"].append(payment["id"])
            invoice["_payment_intents"].append(payment_intent)
            invoice["_charges"].append(charge)
        invoice["amount_paid"] += amount
        invoice["amount_remaining"] = max(invoice["amount_due"] - invoice["amount_paid"], 0)
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = ts
        if payment_intent is not None:
            self.emit("invoice.payment_succeeded", invoice)
        self.emit("invoice.paid", invoice)

    def pay_invoice_by(self: SandboxState, token_or_id: str, method: str, card: str | None = None,
                       email: str | None = None, name: str | None = None) -> tuple[Obj, list[str]]:
        """The payer pays on the hosted page (``card``), or the bank transfer they made arrives
        (``bank_transfer``: a ``customer_balance`` payment). A declined card emits
        ``invoice.payment_failed`` and leaves the invoice open. Returns (invoice, event ids)."""
        from .state import SandboxError, check_card, new_id

        with self.lock:
            invoice = self._invoice(token_or_id)
            if invoice["status"] not in ("open", "uncollectible"):
                raise _error(400, f"This invoice is {invoice['status']} and can no longer be paid.", param="invoice")
            offered = invoice["payment_settings"]["payment_method_types"] or INVOICE_METHODS
            if {"card": "card", "bank_transfer": "customer_balance"}.get(method, method) not in offered:
                raise _error(400, f"This invoice does not take {method.replace('_', ' ')}.", param="method")
            before = len(self.objects["event"])
            amount = invoice["amount_remaining"]
            if method == "card":
                try:
                    check_card(card)
                except SandboxError:
                    invoice["attempt_count"] += 1
                    invoice["attempted"] = True
                    self.emit("invoice.payment_failed", invoice)
                    raise
            elif method != "bank_transfer":
                raise _error(400, "method: card or bank_transfer", param="method")
            customer = self.objects["customer"][invoice["customer"]]
            pi_id, charge_id, ts = new_id("pi_"), new_id("ch_"), _now()
            kind = "card" if method == "card" else "customer_balance"
            details: Obj = ({"type": "card", "card": {"brand": "visa", "country": "GB", "exp_month": 12,
                                                       "exp_year": 2034, "funding": "credit",
                                                       "last4": "".join(ch for ch in card or "" if ch.isdigit())[-4:]}}
                            if kind == "card" else {"type": "customer_balance", "customer_balance": {}})
            self.objects["payment_intent"][pi_id] = {
                "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
                "amount_received": amount, "canceled_at": None, "capture_method": "automatic",
                "client_secret": f"{pi_id}_secret_{new_id('')}", "confirmation_method": "automatic",
                "created": ts, "currency": invoice["currency"], "customer": invoice["customer"],
                "description": f"Invoice {invoice['number']}", "last_payment_error": None,
                "latest_charge": charge_id, "livemode": False, "metadata": {},
                # What the invoice allowed, not what paid it (the charge's details say that).
                "payment_method": new_id("pm_"),
                "payment_method_types": invoice["payment_settings"]["payment_method_types"] or list(INVOICE_METHODS),
                "receipt_email": None, "shipping": None, "status": "succeeded", "_invoice": invoice["id"],
            }
            self.objects["charge"][charge_id] = {
                "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount,
                "amount_refunded": 0,
                "billing_details": {"address": customer["address"], "email": email or customer["email"],
                                    "name": name or customer["name"], "phone": None},
                "captured": True, "created": ts, "currency": invoice["currency"], "customer": invoice["customer"],
                "description": f"Invoice {invoice['number']}", "disputed": False, "failure_code": None,
                "failure_message": None, "livemode": False, "metadata": {}, "paid": True,
                "payment_intent": pi_id, "payment_method_details": details, "receipt_email": None,
                "refunded": False, "shipping": None, "status": "succeeded", "_invoice": invoice["id"],
            }
            self._paid(invoice, pi_id, amount, charge_id)
            events = [e["id"] for e in list(self.objects["event"].values())[before:]]
            return copy.deepcopy(invoice), events

    def mark_overdue(self: SandboxState, iid: str, days: int = 1) -> tuple[Obj, list[str]]:
        """What a dashboard Automation does: the invoice is ``days`` past its due date (moved
        back if it was not yet due) and ``invoice.overdue`` is sent. Open invoices only."""
        with self.lock:
            invoice = self._get("invoice", iid)
            if invoice["status"] != "open":
                raise _error(400, f"Only an open invoice can be overdue; this one is {invoice['status']}.",
                             param="invoice")
            due = _now() - days * 86400
            if invoice["due_date"] is None or invoice["due_date"] > due:
                invoice["due_date"] = due
            return copy.deepcopy(invoice), [self.emit("invoice.overdue", invoice)]

    def _invoice(self: SandboxState, token_or_id: str) -> Obj:
        if token_or_id.startswith("in_"):
            return self._get("invoice", token_or_id)
        found = next((i for i in self.objects["invoice"].values() if i["_token"] == token_or_id), None)
        if found is None or found["status"] == "draft":
            raise _error(404, "No such invoice.", code="resource_missing", param="invoice")
        return found

    def invoice_by_token(self: SandboxState, token: str) -> Obj:
        """The invoice of a hosted page (finalized invoices only)."""
        with self.lock:
            return copy.deepcopy(self._invoice(token))

    def invoice_payments(self: SandboxState, invoice: Obj) -> Obj:
        """An invoice's ``payments``, as the list Stripe includes when asked."""
        with self.lock:
            data = [copy.deepcopy(self.objects["invoice_payment"][pid]) for pid in invoice.get("_payments", [])]
            return {"object": "list", "data": data, "has_more": False,
                    "url": f"/v1/invoice_payments?invoice={invoice['id']}"}

    # -- coupons and promotion codes -----------------------------------------------------------

    def create_coupon(self: SandboxState, fields: Obj) -> Obj:
        from .state import new_id

        with self.lock:
            cid = fields.pop("id", None) or new_id("", 8)
            if cid in self.objects["coupon"]:
                raise _error(400, "Coupon already exists.", code="resource_already_exists", param="id")
            coupon = {
                "id": cid, "object": "coupon", "amount_off": None, "applies_to": None, "created": _now(),
                "currency": None, "currency_options": None, "duration": "once", "duration_in_months": None,
                "livemode": False, "max_redemptions": None, "metadata": {}, "name": None, "percent_off": None,
                "redeem_by": None, "times_redeemed": 0, "valid": True, **fields,
            }
            self.objects["coupon"][cid] = coupon
            return copy.deepcopy(coupon)

    def create_promotion_code(self: SandboxState, *, coupon: str, code: str | None, active: bool,
                              expires_at: int | None, max_redemptions: int | None,
                              minimum_amount: int | None, minimum_amount_currency: str | None,
                              metadata: Obj | None) -> Obj:
        from .state import new_id

        with self.lock:
            self._get("coupon", coupon, param="promotion[coupon]")
            code = code or "".join(secrets.choice(_UPPER) for _ in range(8))
            clash = [p for p in self.objects["promotion_code"].values()
                     if p["active"] and p["code"].casefold() == code.casefold()]
            if active and clash:
                raise _error(400, f"An active promotion code with `code: {code}` already exists.",
                             code="resource_already_exists", param="code")
            promotion = {
                "id": new_id("promo_"), "object": "promotion_code", "active": active, "code": code,
                "created": _now(), "customer": None, "customer_account": None, "expires_at": expires_at,
                "livemode": False, "max_redemptions": max_redemptions, "metadata": metadata or {},
                "promotion": {"coupon": coupon, "type": "coupon"},
                "restrictions": {"currency_options": {}, "first_time_transaction": False,
                                 "minimum_amount": minimum_amount,
                                 "minimum_amount_currency": minimum_amount_currency},
                "times_redeemed": 0,
            }
            self.objects["promotion_code"][promotion["id"]] = promotion
            return copy.deepcopy(promotion)

    def find_promotion_code(self: SandboxState, code: str) -> Obj | None:
        """The active promotion code customers type as ``code`` (in any case)."""
        with self.lock:
            return next((copy.deepcopy(p) for p in self.objects["promotion_code"].values()
                         if p["active"] and p["code"].casefold() == code.strip().casefold()), None)

    def _discount_for(self: SandboxState, code: str, subtotal: int, currency: str) -> tuple[Obj, Obj, int]:
        """(promotion code, coupon, amount off ``subtotal``) for a code a buyer typed; a 400
        naming ``promotion_code`` when Stripe would not take it."""
        promotion = next((p for p in self.objects["promotion_code"].values()
                          if p["active"] and p["code"].casefold() == code.strip().casefold()), None)
        invalid = _error(400, "This code is invalid.", code="promotion_code_invalid", param="promotion_code")
        if promotion is None:
            raise invalid
        coupon = self.objects["coupon"][promotion["promotion"]["coupon"]]
        moment = _now()
        if (promotion["expires_at"] is not None and promotion["expires_at"] <= moment) or \
                (promotion["max_redemptions"] is not None and promotion["times_redeemed"] >= promotion["max_redemptions"]):
            raise invalid
        if not coupon["valid"] or (coupon["redeem_by"] is not None and coupon["redeem_by"] <= moment) or \
                (coupon["max_redemptions"] is not None and coupon["times_redeemed"] >= coupon["max_redemptions"]):
            raise invalid
        minimum = promotion["restrictions"]["minimum_amount"]
        if minimum is not None and (subtotal < minimum
                                    or promotion["restrictions"]["minimum_amount_currency"] != currency):
            raise _error(400, "This code can't be used for an order of this amount.",
                         code="promotion_code_minimum_not_met", param="promotion_code")
        if coupon["amount_off"] is not None:
            if coupon["currency"] != currency:
                raise invalid
            off = min(coupon["amount_off"], subtotal)
        else:
            off = int((Decimal(subtotal) * Decimal(str(coupon["percent_off"])) / 100).to_integral_value())
        return promotion, coupon, min(off, subtotal)

    def _redeem(self: SandboxState, promotion: Obj, coupon: Obj) -> None:
        self.objects["promotion_code"][promotion["id"]]["times_redeemed"] += 1
        coupon["times_redeemed"] += 1
        if coupon["max_redemptions"] is not None and coupon["times_redeemed"] >= coupon["max_redemptions"]:
            coupon["valid"] = False


def _decimal(value: Decimal) -> str:
    """A decimal as Stripe writes one: no exponent, no needless zeros (``750``, ``7.5``)."""
    try:
        text = format(value.normalize(), "f")
    except InvalidOperation:
        text = str(value)
    return text
