"""The ``/v1`` routes of Stripe Billing and discounts (customers, invoice items, invoices, coupons,
promotion codes), the hosted invoice page ``/invoice/<token>`` (and its PDF), and their control
API. Registered by ``app.create_sandbox_app``, whose ``reply`` (an answer in the request's API
version) and ``idempotent`` (Stripe's Idempotency-Key) they use. Parameters are checked as the
checkout routes check theirs: against the SDK's types first (``conformance``, in the app's
gate), then against what the sandbox implements and Stripe's limits (``params``)."""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, Response, g, redirect, render_template_string, request

from .billing import INVOICE_METHODS, TRANSFER_SORT_CODE
from .invoice_page import INVOICE_PAGE, TRANSFER_ACCOUNT, check_card_form, invoice_pdf
from .params import (
    COUPON_CREATE,
    CUSTOMER_CREATE,
    CUSTOMER_LIST,
    CUSTOMER_UPDATE,
    EXPAND_ONLY,
    INVOICE_CREATE,
    INVOICE_FINALIZE,
    INVOICE_ITEM_CREATE,
    INVOICE_LIST,
    INVOICE_PAY,
    MAX_CUSTOM_FIELD_NAME,
    MAX_CUSTOM_FIELD_VALUE,
    MAX_CUSTOM_FIELDS,
    MAX_CUSTOMER_NAME,
    MAX_INVOICE_DESCRIPTION,
    MAX_INVOICE_FOOTER,
    MAX_INVOICE_LINES,
    MAX_PROMOTION_CODE,
    MAX_STRING,
    NOTHING,
    PAGE_ONLY,
    PROMOTION_CODE_CREATE,
    PROMOTION_CODE_LIST,
    ParamError,
    at_most,
    boolean,
    check_known,
    check_metadata,
    currency,
    integer,
    one_of,
    required,
)
from .state import Obj, SandboxError, SandboxState, format_money

_CREATED_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CODE = re.compile(r"[A-Za-z0-9]+")
_INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")


def _payment_settings(settings: Any) -> Obj:
    """An invoice's ``payment_settings``: the types it offers (unset: the account's defaults,
    which here are both) and, for a bank transfer, how the balance is funded."""
    if not settings:
        return {"default_mandate": None, "payment_method_options": None, "payment_method_types": None}
    types = settings.get("payment_method_types") or None
    for index, kind in enumerate(types or []):
        if kind not in INVOICE_METHODS:
            raise ParamError(f"The Stripe sandbox's invoices take {' or '.join(INVOICE_METHODS)}, not {kind}.",
                             param=f"payment_settings[payment_method_types][{index}]")
    options = settings.get("payment_method_options") or None
    balance = (options or {}).get("customer_balance")
    if types and "customer_balance" in types:
        if not balance or balance.get("funding_type") != "bank_transfer":
            raise ParamError("customer_balance needs payment_method_options[customer_balance][funding_type]="
                             "bank_transfer to be funded by a bank transfer.",
                             param="payment_settings[payment_method_options][customer_balance][funding_type]")
        kind = (balance.get("bank_transfer") or {}).get("type")
        if kind != "gb_bank_transfer":
            raise ParamError("This sandbox account is in the United Kingdom: the bank transfer type must be "
                             "gb_bank_transfer for GBP.",
                             param="payment_settings[payment_method_options][customer_balance][bank_transfer][type]")
    return {"default_mandate": None, "payment_method_types": types,
            "payment_method_options": ({"customer_balance": {
                "bank_transfer": {"type": "gb_bank_transfer"}, "funding_type": "bank_transfer"}}
                if balance else None)}


def _range_filter(p: Obj, name: str) -> Callable[[Obj], bool]:
    """Stripe's ``created``/``due_date`` filters: a timestamp, or ``{gt, gte, lt, lte}``."""
    value = p.get(name)
    if value is None:
        return lambda _obj: True
    if isinstance(value, dict):
        check_known(value, dict.fromkeys(_CREATED_OPS), name)
        bounds = [(_CREATED_OPS[op], integer(v, f"{name}[{op}]")) for op, v in value.items()]
    else:
        bounds = [(operator.eq, integer(value, name))]
    return lambda obj: obj.get(name) is not None and all(test(obj[name], bound) for test, bound in bounds)


def _address(value: Any, name: str) -> Obj | None:
    if value is None:
        return None
    if value == "":
        return None
    return {key: value.get(key) for key in ("city", "country", "line1", "line2", "postal_code", "state")}


def _email(value: Any, name: str) -> str | None:
    if value is not None and (not _EMAIL.fullmatch(value) or len(value) > 512):
        raise ParamError(f"Invalid email address: {value}", code="email_invalid", param=name)
    return value


def _customer_fields(p: Obj) -> Obj:
    fields: Obj = {}
    if "email" in p:
        fields["email"] = _email(p["email"], "email")
    if "name" in p:
        fields["name"] = at_most(p["name"], MAX_CUSTOMER_NAME, "name")
    for key in ("description", "phone"):
        if key in p:
            fields[key] = at_most(p[key], MAX_STRING, key)
    if "address" in p:
        fields["address"] = _address(p["address"], "address")
    if "shipping" in p:
        shipping = p["shipping"]
        fields["shipping"] = None if shipping in ("", None) else {
            "address": _address(required(shipping, "address", "shipping[address]"), "shipping[address]"),
            "name": required(shipping, "name", "shipping[name]"), "phone": shipping.get("phone")}
    if "metadata" in p:
        fields["metadata"] = p["metadata"] or {}
    if "preferred_locales" in p:
        fields["preferred_locales"] = list(p["preferred_locales"] or [])
    return fields


def _decimal_param(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError):
        raise ParamError(f"Invalid decimal: {value}", param=name) from None
    if not number.is_finite() or number < 0:
        raise ParamError(f"Invalid decimal: {value}", param=name)
    return number


def add_billing_routes(app: Flask, state: SandboxState, reply: Callable[..., Response],
                       idempotent: Callable[[Callable[..., Response]], Callable[..., Response]],
                       expand: Callable[[SandboxState, Obj, list[str]], Obj],
                       paginate: Callable[..., Obj], body: Callable[..., Obj]) -> None:
    """Register the Billing and discount routes on ``app`` (``body`` reads a control request)."""

    def expanded(obj: Obj) -> Response:
        return reply(expand(state, obj, g.params.get("expand", [])))

    # -- customers --------------------------------------------------------------------------

    @app.post("/v1/customers")
    @idempotent
    def create_customer() -> Response:
        p = g.params
        check_known(p, CUSTOMER_CREATE)
        check_metadata(p)
        return expanded(state.create_customer(_customer_fields(p)))

    @app.post("/v1/customers/<cid>")
    @idempotent
    def update_customer(cid: str) -> Response:
        p = g.params
        check_known(p, CUSTOMER_UPDATE)
        check_metadata(p)
        return expanded(state.update_customer(cid, _customer_fields(p)))

    @app.get("/v1/customers")
    def list_customers() -> Response:
        p = g.params
        check_known(p, CUSTOMER_LIST)
        created = _range_filter(p, "created")
        email = p.get("email")  # case-sensitive, as Stripe's filter is

        def keep(customer: Obj) -> bool:
            return (email is None or customer["email"] == email) and created(customer)

        return expanded(paginate(state.all("customer"), p, "/v1/customers", "customer", keep))

    # -- invoice items ------------------------------------------------------------------------

    @app.post("/v1/invoiceitems")
    @idempotent
    def create_invoice_item() -> Response:
        p = g.params
        check_known(p, INVOICE_ITEM_CREATE)
        check_metadata(p)
        customer = required(p, "customer", "customer")
        if p.get("amount") is not None and p.get("unit_amount_decimal") is not None:
            raise ParamError("You may only specify one of these parameters: amount, unit_amount_decimal.",
                             param="amount")
        invoice = p.get("invoice")
        if invoice and len(state.invoice_lines(invoice)) >= MAX_INVOICE_LINES:
            raise ParamError(f"An invoice can have at most {MAX_INVOICE_LINES} line items.", param="invoice")
        default_currency = state.get("invoice", invoice)["currency"] if invoice else "gbp"
        item = state.create_invoice_item(
            customer=customer,
            currency=currency(p["currency"], "currency") if p.get("currency") else default_currency,
            description=at_most(p.get("description"), MAX_STRING, "description"),
            quantity=integer(p.get("quantity", "1"), "quantity", minimum=1),
            unit_amount=(_decimal_param(p["unit_amount_decimal"], "unit_amount_decimal")
                         if p.get("unit_amount_decimal") is not None else None),
            amount=integer(p["amount"], "amount") if p.get("amount") is not None else None,
            invoice=invoice, metadata=p.get("metadata") or None,
        )
        return expanded(item)

    # -- invoices -------------------------------------------------------------------------------

    @app.post("/v1/invoices")
    @idempotent
    def create_invoice() -> Response:
        p = g.params
        check_known(p, INVOICE_CREATE)
        check_metadata(p)
        if p.get("discounts") not in (None, ""):
            raise ParamError("The Stripe sandbox does not implement invoice discounts: pass discounts=\"\" "
                             "(no discount) or leave it out.", param="discounts")
        fields = p.get("custom_fields") or []
        if fields == "":
            fields = []
        if len(fields) > MAX_CUSTOM_FIELDS:
            raise ParamError(f"Invalid custom_fields: an invoice can have at most {MAX_CUSTOM_FIELDS} custom "
                             "fields.", param="custom_fields")
        custom = []
        for index, field in enumerate(fields):
            name = required(field, "name", f"custom_fields[{index}][name]")
            value = required(field, "value", f"custom_fields[{index}][value]")
            custom.append({"name": at_most(name, MAX_CUSTOM_FIELD_NAME, f"custom_fields[{index}][name]"),
                           "value": at_most(value, MAX_CUSTOM_FIELD_VALUE, f"custom_fields[{index}][value]")})
        shipping = p.get("shipping_details")
        if shipping is not None:
            shipping = {"address": _address(required(shipping, "address", "shipping_details[address]"),
                                            "shipping_details[address]"),
                        "name": at_most(required(shipping, "name", "shipping_details[name]"), MAX_CUSTOMER_NAME,
                                        "shipping_details[name]"),
                        "phone": shipping.get("phone")}
        invoice = state.create_invoice(
            payment_settings=_payment_settings(p.get("payment_settings")),
            customer=required(p, "customer", "customer"),
            collection_method=one_of(p, "collection_method", ("charge_automatically", "send_invoice"))
            or "charge_automatically",
            currency=currency(p["currency"], "currency") if p.get("currency") else "gbp",
            days_until_due=(integer(p["days_until_due"], "days_until_due", minimum=0)
                            if p.get("days_until_due") is not None else None),
            due_date=integer(p["due_date"], "due_date") if p.get("due_date") is not None else None,
            auto_advance=boolean(p["auto_advance"], "auto_advance") if p.get("auto_advance") is not None else False,
            custom_fields=custom, metadata=p.get("metadata") or None,
            description=at_most(p.get("description"), MAX_INVOICE_DESCRIPTION, "description"),
            footer=at_most(p.get("footer"), MAX_INVOICE_FOOTER, "footer"),
            shipping_details=shipping,
            include_pending=one_of(p, "pending_invoice_items_behavior", ("exclude", "include")) == "include",
            number=at_most(p.get("number"), 26, "number"),
        )
        return expanded(invoice)

    @app.get("/v1/invoices")
    def list_invoices() -> Response:
        p = g.params
        check_known(p, INVOICE_LIST)
        one_of(p, "status", _INVOICE_STATUSES)
        created, due = _range_filter(p, "created"), _range_filter(p, "due_date")

        def keep(invoice: Obj) -> bool:
            return ((p.get("customer") is None or invoice["customer"] == p["customer"])
                    and (p.get("status") is None or invoice["status"] == p["status"])
                    and (p.get("collection_method") is None or invoice["collection_method"] == p["collection_method"])
                    and created(invoice) and due(invoice))

        return expanded(paginate(state.all("invoice"), p, "/v1/invoices", "invoice", keep))

    @app.get("/v1/invoices/<iid>/lines")
    def invoice_lines(iid: str) -> Response:
        check_known(g.params, PAGE_ONLY)
        return reply(paginate(state.invoice_lines(iid), g.params, f"/v1/invoices/{iid}/lines", "line_item"))

    @app.delete("/v1/invoices/<iid>")
    def delete_invoice(iid: str) -> Response:
        check_known(g.params, NOTHING)
        return reply(state.delete_invoice(iid))

    @app.post("/v1/invoices/<iid>/finalize")
    @idempotent
    def finalize_invoice(iid: str) -> Response:
        p = g.params
        check_known(p, INVOICE_FINALIZE)
        auto = boolean(p["auto_advance"], "auto_advance") if p.get("auto_advance") is not None else None
        return expanded(state.finalize_invoice(iid, request.host_url.rstrip("/"), auto))

    @app.post("/v1/invoices/<iid>/send")
    @idempotent
    def send_invoice(iid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return expanded(state.send_invoice(iid))

    @app.post("/v1/invoices/<iid>/pay")
    @idempotent
    def pay_invoice(iid: str) -> Response:
        p = g.params
        check_known(p, INVOICE_PAY)
        out_of_band = boolean(p["paid_out_of_band"], "paid_out_of_band") if p.get("paid_out_of_band") else False
        return expanded(state.pay_invoice(iid, paid_out_of_band=out_of_band))

    @app.post("/v1/invoices/<iid>/void")
    @idempotent
    def void_invoice(iid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return expanded(state.void_invoice(iid))

    @app.post("/v1/invoices/<iid>/mark_uncollectible")
    @idempotent
    def mark_uncollectible(iid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return expanded(state.mark_uncollectible(iid))

    # -- coupons and promotion codes --------------------------------------------------------------

    @app.post("/v1/coupons")
    @idempotent
    def create_coupon() -> Response:
        p = g.params
        check_known(p, COUPON_CREATE)
        check_metadata(p)
        percent, amount = p.get("percent_off"), p.get("amount_off")
        if (percent is None) == (amount is None):
            raise ParamError("You must pass exactly one of percent_off or amount_off.", param="percent_off")
        fields: Obj = {"metadata": p.get("metadata") or {}}
        if percent is not None:
            value = _decimal_param(percent, "percent_off")
            if not 0 < value <= 100:
                raise ParamError("percent_off must be greater than 0 and at most 100.", param="percent_off")
            fields["percent_off"] = float(value)
        else:
            fields["amount_off"] = integer(amount, "amount_off", minimum=1)
            fields["currency"] = currency(required(p, "currency", "currency"), "currency")
        duration = one_of(p, "duration", ("forever", "once", "repeating")) or "once"
        if duration == "repeating":
            raise ParamError("The Stripe sandbox has no subscriptions: use duration once or forever.",
                             param="duration")
        fields["duration"] = duration
        for key in ("max_redemptions", "redeem_by"):
            if p.get(key) is not None:
                fields[key] = integer(p[key], key, minimum=1)
        if p.get("name") is not None:
            fields["name"] = at_most(p["name"], 40, "name")
        if p.get("id"):
            fields["id"] = at_most(p["id"], 200, "id")
        return expanded(state.create_coupon(fields))

    @app.post("/v1/promotion_codes")
    @idempotent
    def create_promotion_code() -> Response:
        p = g.params
        check_known(p, PROMOTION_CODE_CREATE)
        check_metadata(p)
        promotion = required(p, "promotion", "promotion")
        if promotion.get("type") != "coupon":
            raise ParamError("Invalid promotion[type]: must be coupon", param="promotion[type]")
        code = p.get("code")
        if code is not None and (not _CODE.fullmatch(code) or len(code) > MAX_PROMOTION_CODE):
            raise ParamError("A promotion code may contain only letters (a-z, A-Z) and digits (0-9).",
                             param="code")
        restrictions = p.get("restrictions") or {}
        if restrictions.get("first_time_transaction") == "true":
            raise ParamError("The Stripe sandbox does not implement first_time_transaction.",
                             param="restrictions[first_time_transaction]")
        minimum = restrictions.get("minimum_amount")
        minimum_currency = restrictions.get("minimum_amount_currency")
        if (minimum is None) != (minimum_currency is None):
            raise ParamError("minimum_amount and minimum_amount_currency go together.",
                             param="restrictions[minimum_amount_currency]")
        created = state.create_promotion_code(
            coupon=required(promotion, "coupon", "promotion[coupon]"), code=code,
            active=boolean(p["active"], "active") if p.get("active") is not None else True,
            expires_at=integer(p["expires_at"], "expires_at") if p.get("expires_at") is not None else None,
            max_redemptions=(integer(p["max_redemptions"], "max_redemptions", minimum=1)
                             if p.get("max_redemptions") is not None else None),
            minimum_amount=integer(minimum, "restrictions[minimum_amount]", minimum=0) if minimum is not None else None,
            minimum_amount_currency=(currency(minimum_currency, "restrictions[minimum_amount_currency]")
                                     if minimum_currency is not None else None),
            metadata=p.get("metadata") or None,
        )
        return expanded(created)

    @app.get("/v1/promotion_codes")
    def list_promotion_codes() -> Response:
        p = g.params
        check_known(p, PROMOTION_CODE_LIST)
        created = _range_filter(p, "created")
        active = boolean(p["active"], "active") if p.get("active") is not None else None

        def keep(promotion: Obj) -> bool:
            return ((p.get("code") is None or promotion["code"].casefold() == p["code"].casefold())
                    and (active is None or promotion["active"] == active)
                    and (p.get("coupon") is None or promotion["promotion"]["coupon"] == p["coupon"])
                    and created(promotion))

        return expanded(paginate(state.all("promotion_code"), p, "/v1/promotion_codes", "promotion_code", keep))

    # -- the hosted invoice page --------------------------------------------------------------------

    def invoice_page(invoice: Obj, status: int = 200, errors: dict[str, str] | None = None,
                     message: str | None = None, values: Any = None) -> tuple[str, int]:
        html = render_template_string(
            INVOICE_PAGE, invoice=invoice, lines=state.invoice_lines(invoice["id"]), errors=errors or {},
            message=message, values={k: v for k, v in (values or {}).items() if k in ("name", "email")},
            money=lambda amount: format_money(amount, invoice["currency"]),
            payable=invoice["status"] in ("open", "uncollectible"),
            due=time.strftime("%-d %B %Y", time.gmtime(invoice["due_date"])) if invoice["due_date"] else None,
            sort_code=TRANSFER_SORT_CODE, account=TRANSFER_ACCOUNT,
            methods=invoice["payment_settings"]["payment_method_types"] or INVOICE_METHODS,
        )
        return html, status

    @app.route("/invoice/<token>", methods=["GET", "POST"])
    def hosted_invoice(token: str) -> Any:
        try:
            invoice = state.invoice_by_token(token)
        except SandboxError:
            return "<!doctype html><html lang=en><title>Invoice not found</title><h1>Invoice not found</h1>", 404
        if request.method == "GET":
            return invoice_page(invoice)
        if invoice["status"] not in ("open", "uncollectible"):
            return invoice_page(invoice, 409, message=f"This invoice is {invoice['status']}: nothing to pay.")
        errors = check_card_form(request.form)
        if errors:
            return invoice_page(invoice, 400, errors=errors, values=request.form)
        try:
            state.pay_invoice_by(token, "card", card=request.form.get("card_number", ""),
                                 email=request.form.get("email", "").strip() or None,
                                 name=request.form.get("name", "").strip() or None)
        except SandboxError as exc:
            if exc.error.get("param") == "number":
                return invoice_page(invoice, exc.status, errors={"card_number": str(exc)}, values=request.form)
            return invoice_page(state.invoice_by_token(token), exc.status, message=str(exc), values=request.form)
        return redirect(f"/invoice/{token}", 303)

    @app.get("/invoice/<token>/pdf")
    def hosted_invoice_pdf(token: str) -> Response:
        try:
            invoice = state.invoice_by_token(token)
        except SandboxError:
            return Response("No such invoice.", 404, mimetype="text/plain")
        body = invoice_pdf(invoice, state.invoice_lines(invoice["id"]))
        return Response(body, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="Invoice-{invoice["number"]}.pdf"'})

    # -- control API ----------------------------------------------------------------------------------

    @app.get("/_sandbox/invoices/<iid>")
    def control_invoice(iid: str) -> Obj:
        """The invoice as the sandbox keeps it, its bookkeeping (``_sent``: emails sent) too."""
        return state.get("invoice", iid)

    @app.post("/_sandbox/invoices/<iid>/pay")
    def control_pay_invoice(iid: str) -> Obj:
        """``method``: ``card`` (as the hosted page; ``card`` the number, 4242… by default) or
        ``bank_transfer`` (the payer's transfer has arrived)."""
        data = body("method", "card", "email", "name")
        invoice, event_ids = state.pay_invoice_by(iid, str(data.get("method") or "bank_transfer"),
                                                  card=data.get("card") or "4242424242424242",
                                                  email=data.get("email"), name=data.get("name"))
        return {"invoice": invoice, "event_ids": event_ids}

    @app.post("/_sandbox/invoices/<iid>/overdue")
    def control_overdue(iid: str) -> Obj:
        """What a dashboard Automation does: ``invoice.overdue``, ``days`` (1) past due."""
        data = body("days")
        days = data.get("days", 1)
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise SandboxError(400, "days: a whole number, 0 or more", param="days")
        invoice, event_ids = state.mark_overdue(iid, days)
        return {"invoice": invoice, "event_ids": event_ids}

    @app.get("/_sandbox/promotion_codes/<code>")
    def control_promotion_code(code: str) -> Obj:
        found = state.find_promotion_code(code)
        if found is None:
            raise SandboxError(404, f"No active promotion code {code}.", param="code")
        return found
