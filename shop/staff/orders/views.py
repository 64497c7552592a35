"""The order desk: the list with its filters, CSV export and batch actions (packing slips,
address labels, Click & Drop export, dispatch, tracking import), each order's page, and its
actions (dispatch, tracking correction, two-step refund, cancel, note, resend an email, packing
slip). Nested under ``staff``, whose sign-in guard and ``no-store`` header apply here."""

from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice

from shop import isbn as isbns
from shop.carriers import tracking_url
from shop.catalogue.availability import may_ship, offer
from shop.catalogue.queries import get_by_isbn
from shop.emails import outbox
from shop.errors import InvalidISBN, NotFound, PaymentGatewayError, ShopError
from shop.extensions import db
from shop.money import format_pence
from shop.notify import services as notify
from shop.orders import batch as batches
from shop.orders import clickdrop, desk, invoicing, refund_requests, refunds, waiting
from shop.orders.desk import FILTER_ALIASES, STATUS_FILTERS, OrderFilters, Selection
from shop.orders.export import order_lines_csv
from shop.orders.labels import labels_pdf
from shop.orders.views import order_page_path, receipt_response
from shop.payments.gateway import dashboard_url, invoice_dashboard_url
from shop.seller import seller_from_config
from shop.staff.actions import run_action
from shop.staff.orders.forms import (
    AcknowledgeMismatchForm,
    AllocateForm,
    ApproveInvoiceForm,
    BatchDispatchForm,
    BatchForm,
    CancelForm,
    DeclineInvoiceForm,
    DispatchForm,
    MarkPaidForm,
    NewDateForm,
    NoteForm,
    OrderFilterForm,
    RefundForm,
    ResendForm,
    ResendInvoiceForm,
    TrackingCorrectionForm,
    TrackingImportForm,
    VoidInvoiceForm,
)
from shop.staff.reauth import require_fresh_password
from shop.timeutil import as_utc, local_today, utcnow

# No url_prefix: the export sits beside the list, at /staff/orders.csv.
bp = Blueprint("orders", __name__)


STATUS_CHOICES = [SelectChoice(key, label) for key, (label, _) in STATUS_FILTERS.items()]


def _filters_from(args: MultiDict) -> tuple[OrderFilterForm, OrderFilters]:
    args = MultiDict(args)
    if args.get("status") in FILTER_ALIASES:
        args["status"] = FILTER_ALIASES[args["status"]]
    form = OrderFilterForm(args)
    form.status.choices = STATUS_CHOICES
    if not args.get("status"):
        form.status.data = "placed"
    form.validate()
    dates_in_order = form.check_date_order()
    isbn = None
    if form.isbn.data and not form.isbn.errors:
        try:
            isbn = isbns.normalise(form.isbn.data)
        except InvalidISBN as error:
            form.isbn.errors = [error.message]
    filters = OrderFilters(
        status=form.status.data if not form.status.errors else "placed",
        date_from=form.date_from.data if not form.date_from.errors and dates_in_order else None,
        date_to=form.date_to.data if not form.date_to.errors and dates_in_order else None,
        isbn=isbn,
        text=(form.q.data or "") if not form.q.errors else "",
    )
    return form, filters


def _filters_from_request() -> tuple[OrderFilterForm, OrderFilters]:
    return _filters_from(request.args)


@bp.get("/orders")
def index():
    form, filters = _filters_from_request()
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    config = current_app.config
    result = desk.search_orders(
        filters, page, config["STAFF_ORDERS_PER_PAGE"], utcnow(), config["DISPATCH_WARNING_DAYS"]
    )
    return render_template(
        "staff/orders/index.html",
        form=form,
        result=result,
        shown_at=utcnow().isoformat(timespec="microseconds"),
        tick_all=request.args.get("tick") == "page",
        status_choices=STATUS_CHOICES,
    )


@bp.get("/orders.csv")
def csv():
    _, filters = _filters_from_request()
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    excel = request.args.get("excel") == "1"
    return Response(
        stream_with_context(order_lines_csv(filters, excel=excel)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="orders-{stamp}{"-excel" if excel else ""}.csv"'},
    )


# --- batches --------------------------------------------------------------------------------

FILTER_FIELDS = ("status", "date_from", "date_to", "isbn", "q")
LISTED_IN_A_MESSAGE = 10


def _selection_from_form() -> tuple[Selection, OrderFilters]:
    """The batch form's selection: the ticked references, or the filter it carries (fields
    prefixed ``filter-``) up to the newest order shown."""
    carried = MultiDict({name: request.form.get(f"filter-{name}", "") for name in FILTER_FIELDS})
    _, filters = _filters_from(carried)
    if request.form.get("scope") == "all":
        try:
            shown_at = as_utc(datetime.fromisoformat(request.form.get("shown_at", "")))
        except ValueError:
            shown_at = utcnow()
        return Selection(filters=filters, placed_by=shown_at), filters
    return Selection(references=request.form.getlist("ref"), packing_order=filters.to_pack), filters


def _list_url(filters: OrderFilters) -> str:
    args: dict[str, Any] = dict(filters.as_args())
    return url_for(".index", **args)


def _back_to_list(filters: OrderFilters):
    return redirect(_list_url(filters), code=303)


def _selected(selection: Selection):
    config = current_app.config
    return desk.selected_orders(selection, config["STAFF_BATCH_LIMIT"], utcnow(), config["DISPATCH_WARNING_DAYS"])


def _packable_and_not(orders: list) -> tuple[list, str]:
    """The orders that may be packed now, and the others in words (reference and reason)."""
    movable = batches.packable_ids([order.id for order in orders])
    left_out = "; ".join(
        f"{order.reference} ({batches.why_not_packable(order)})" for order in orders if order.id not in movable
    )
    return [order for order in orders if order.id in movable], left_out


def _download(body: str | bytes, mimetype: str, name: str, extension: str) -> Response:
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.{extension}"'})


@bp.post("/orders/batch")
def batch():
    """One of the list's batch actions on the selection. Documents (slips, labels, the Click &
    Drop file) are recorded on each order's timeline as they are made; "mark dispatched" first
    shows the orders it would move, with a carrier and a tracking number for each."""
    form = BatchForm()
    selection, filters = _selection_from_form()
    if not form.validate_on_submit():
        flash("The form had expired: nothing was done. Try again.", "error")
        return _back_to_list(filters)
    action = request.form.get("action", "")
    try:
        orders = _selected(selection)
    except ShopError as error:
        flash(error.message, "error")
        return _back_to_list(filters)
    actor = current_user.email
    config = current_app.config
    if action in ("slips", "labels", "click_drop"):
        # Documents are for orders that will be sent: the others are named and left out.
        orders, left_out = _packable_and_not(orders)
        if not orders:
            flash(f"None of the selected orders can be packed now: {left_out}. Nothing was made.", "error")
            return _back_to_list(filters)
        if left_out and action != "slips":  # the slips page says so itself
            flash(f"Left out of the download, as they cannot be packed now: {left_out}.", "warning")
    if action == "slips":
        batches.load_for_documents(orders)
        batches.record_printed(orders, "packing_slip_printed", actor)
        db.session.commit()
        return render_template("staff/orders/packing_slips.html", orders=orders,
                               back=_list_url(filters), left_out=left_out)
    if action == "labels":
        try:
            pdf = labels_pdf(orders, config["LABEL_SHEET"])
        except ShopError as error:
            flash(error.message, "error")
            return _back_to_list(filters)
        batches.record_printed(orders, "address_label_printed", actor, sheet=config["LABEL_SHEET"])
        db.session.commit()
        return _download(pdf, "application/pdf", "address-labels", "pdf")
    if action == "click_drop":
        text = clickdrop.export_csv(orders, clickdrop.Postage.from_config(config))
        batches.record_printed(orders, "click_drop_exported", actor)
        db.session.commit()
        return _download(text, "text/csv", "click-and-drop", "csv")
    if action == "dispatch":
        return render_template(
            "staff/orders/batch_dispatch.html", orders=orders,
            form=BatchDispatchForm(formdata=None, carrier="Royal Mail"),
            movable=batches.packable_ids([order.id for order in orders]), filters=filters,
            why_not_packable=batches.why_not_packable,
        )
    flash("Choose what to do with the selected orders.", "error")
    return _back_to_list(filters)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:LISTED_IN_A_MESSAGE])
    more = len(items) - LISTED_IN_A_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


@bp.post("/orders/batch/dispatch")
def batch_dispatch():
    """Mark the orders shown on the confirmation dispatched: one carrier, a tracking number each
    (optional). Those that cannot move are named in the message and left alone."""
    form = BatchDispatchForm()
    references = request.form.getlist("ref")
    tracking = {ref: request.form.get(f"tracking-{ref}", "") for ref in references}

    def action() -> str:
        orders = _selected(Selection(references=references))
        result = batches.dispatch_batch(orders, form.carrier.data or "", tracking, current_user.email)
        message = f"{len(result.moved)} {'order' if len(result.moved) == 1 else 'orders'} marked dispatched."
        if result.left_alone:
            message += f" Left alone ({len(result.left_alone)}): " + _listed(
                [f"{item.reference} ({item.reason})" for item in result.left_alone]
            ) + "."
        return message

    return run_action(form, action, "", redirect(url_for(".index", status=desk.TO_PACK), code=303))


@bp.route("/orders/tracking-import", methods=["GET", "POST"])
def tracking_import():
    """Tracking numbers from a Click & Drop export: "Check" reports what would happen and changes
    nothing; "Import" dispatches every matched order, all or nothing."""
    form = TrackingImportForm()
    report = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            apply = request.form.get("action") == "import"
            try:
                report = clickdrop.import_tracking(form.file.data.read(), current_user.email, apply=apply)
            except ShopError as error:
                form.file.errors = [error.message]
            if report is not None and report.applied:
                db.session.commit()
            else:
                db.session.rollback()
        if form.errors or (report is not None and report.problems):
            status = 422
    return render_template("staff/orders/tracking_import.html", form=form, report=report), status


def _order_or_404(reference: str):
    try:
        return desk.get_order(reference)
    except NotFound as error:
        abort(404, description=error.message)


@bp.get("/orders/<reference>")
def show(reference: str):
    order = _order_or_404(reference)
    return render_template(
        "staff/orders/show.html",
        order=order,
        dispatch_form=DispatchForm(),
        tracking_form=TrackingCorrectionForm(formdata=None, carrier=order.carrier, tracking_number=order.tracking_number),
        can_cancel=refund_requests.can_cancel(order),
        note_form=NoteForm(formdata=None),
        acknowledge_form=AcknowledgeMismatchForm(formdata=None),
        emails=outbox.emails_for(order),
        resend_form=ResendForm(),
        stripe_url=dashboard_url(order.payment_intent_id) if order.payment_intent_id else None,
        flags=desk.order_flags(order, utcnow(), current_app.config["DISPATCH_WARNING_DAYS"]),
        carriers=list(current_app.config["CARRIERS"]),
        tracking_url=tracking_url(order.carrier, order.tracking_number, current_app.config["CARRIERS"]),
        customer_page=order_page_path(order),
        invoice=order.invoice,
        invoice_url=(invoice_dashboard_url(order.invoice.stripe_invoice_id)
                     if order.invoice and order.invoice.stripe_invoice_id else None),
        invoice_forms={
            "approve": ApproveInvoiceForm(formdata=None), "decline": DeclineInvoiceForm(formdata=None),
            "resend": ResendInvoiceForm(formdata=None), "void": VoidInvoiceForm(formdata=None),
            "paid": MarkPaidForm(formdata=None),
        },
        now=utcnow(),
        refund_at_desk=refund_requests.refundable_at_desk(order),
    )


def _back_to(order):
    return redirect(url_for(".show", reference=order.reference), code=303)


def _run(order, form, action, done: str):
    return run_action(form, action, done, _back_to(order))


@bp.post("/orders/<reference>/dispatch")
def dispatch(reference: str):
    order = _order_or_404(reference)
    form = DispatchForm()
    return _run(
        order,
        form,
        lambda: desk.dispatch_order(
            order, (form.carrier.data or "").strip(), (form.tracking_number.data or "").strip(),
            current_user.email,
        ),
        f"Order {order.reference} marked dispatched.",
    )


@bp.post("/orders/<reference>/tracking")
def correct_tracking(reference: str):
    order = _order_or_404(reference)
    form = TrackingCorrectionForm()

    def action() -> str:
        emailed = batches.correct_tracking(
            order, form.carrier.data or "", form.tracking_number.data or "", current_user.email,
            notify=bool(form.notify.data),
        )
        if form.notify.data and not emailed:
            return "Tracking corrected. No email was sent: the order has no usable email address."
        return "Tracking corrected; the customer gets the corrected details by email." if emailed else (
            "Tracking corrected. The customer was not emailed."
        )

    return _run(order, form, action, "")


# --- refunds and cancelling: choose, confirm, then Stripe -------------------------------------

def _refund_page(order, form: RefundForm, error: str | None = None, status: int = 200):
    return render_template(
        "staff/orders/refund.html", order=order, form=form, error=error,
        can_restock=refund_requests.can_restock(order),
    ), status


def _pence(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _plan_from(order, form: RefundForm, confirmed: bool = False) -> refund_requests.RefundPlan:
    return refund_requests.plan_refund(
        order, full=form.choice.data == "full", amount_pence=getattr(form.amount, "pence", None),
        reason=form.reason.data or "", note=form.note.data or "", restock=bool(form.restock.data),
        confirmed_pence=_pence(form.confirmed_pence.data) if confirmed else None,
    )


@bp.get("/orders/<reference>/refund")
def refund_start(reference: str):
    """Step one: how much (nothing filled in), why, and whether copies go back to stock."""
    return _refund_page(_order_or_404(reference), RefundForm(formdata=None))


@bp.post("/orders/<reference>/refund/check")
def refund_check(reference: str):
    """Step two: the confirmation, saying exactly what will happen. Nothing changes yet."""
    order = _order_or_404(reference)
    form = RefundForm()
    if request.form.get("change"):  # back from the confirmation, everything as typed
        return _refund_page(order, form)
    if not form.validate_on_submit():
        return _refund_page(order, form, status=422)
    try:
        plan = _plan_from(order, form)
    except ShopError as error:
        return _refund_page(order, form, error.message, 422)
    return render_template(
        "staff/orders/refund_confirm.html", order=order, form=form, plan=plan,
        consequences=refund_requests.describe(order, plan),
    )


@bp.post("/orders/<reference>/acknowledge-mismatch")
def acknowledge_mismatch(reference: str):
    order = _order_or_404(reference)
    form = AcknowledgeMismatchForm()
    return _run(
        order,
        form,
        lambda: desk.acknowledge_mismatch(order, form.note.data, current_user.email),
        f"Amount mismatch on order {order.reference} acknowledged; it may now be dispatched.",
    )


@bp.post("/orders/<reference>/refund")
def refund(reference: str):
    """Step three: the confirmed refund, through Stripe; then stock and the customer's email."""
    order = _order_or_404(reference)
    form = RefundForm()
    if not form.validate_on_submit():
        return _refund_page(order, form, status=422)
    try:
        plan = _plan_from(order, form, confirmed=True)
    except ShopError as error:
        return _refund_page(order, form, error.message, 422)
    prompt = _fresh_password_for(order, plan.amount_pence)
    if prompt is not None:
        return prompt
    try:
        outcome = refund_requests.carry_out(order, plan, form.request_token.data, current_user.email)
    except ShopError as error:
        db.session.rollback()
        return _refund_page(order, form, error.message, 422)
    db.session.commit()
    flash(_refund_message(order, outcome), "success")
    return _back_to(order)


def _fresh_password_for(order, amount_pence: int):
    """Refunds above STAFF_REAUTH_REFUND_PENCE need the password typed again (shop.staff.reauth):
    this one with whatever this member of staff refunded in the last STAFF_REAUTH_MINUTES, so
    that a large refund cannot be made as several small ones. The prompt page to answer with, or
    None to go ahead."""
    config = current_app.config
    since = utcnow() - timedelta(minutes=config["STAFF_REAUTH_MINUTES"])
    recent = refunds.refunded_by_since(current_user.email, since)
    if amount_pence + recent <= config["STAFF_REAUTH_REFUND_PENCE"]:
        return None
    return require_fresh_password(
        f"refund {format_pence(amount_pence)} of order {order.reference}",
        url_for(".show", reference=order.reference),
    )


def _refund_message(order, outcome: refund_requests.RefundOutcome, cancelled: bool = False) -> str:
    if outcome.repeated:
        return f"That refund was already made ({outcome.refund_id}); nothing more was done."
    done = f"Order {order.reference} cancelled: " if cancelled else ""
    if outcome.status in refunds.PENDING:
        message = (
            f"{done}Stripe accepted a refund of {format_pence(outcome.amount_pence)}; it is pending, "
            "and counts once Stripe completes it."
        )
    else:
        message = f"{done}Stripe refunded {format_pence(outcome.amount_pence)} ({outcome.status})."
    if outcome.restocked:
        message += f" {order.copies} {'copy' if order.copies == 1 else 'copies'} back in stock."
    message += " The customer gets an email." if outcome.emailed else " No email was sent."
    return message


def _cancel_page(order, form: CancelForm, error: str | None = None, status: int = 200):
    preview = refund_requests.RefundPlan(order.refundable_pence, True, form.reason.data or "", "", True, True)
    return render_template(
        "staff/orders/cancel.html", order=order, form=form, error=error,
        can_cancel=refund_requests.can_cancel(order),
        consequences=refund_requests.describe(order, preview) if refund_requests.can_cancel(order) else [],
    ), status


@bp.get("/orders/<reference>/cancel")
def cancel_start(reference: str):
    """Cancel a paid order not yet dispatched: the page says what will happen and asks why."""
    return _cancel_page(_order_or_404(reference), CancelForm(formdata=None))


@bp.post("/orders/<reference>/cancel")
def cancel(reference: str):
    """Refund in full, put the copies back, email the customer: one confirmed action."""
    order = _order_or_404(reference)
    form = CancelForm()
    if not form.validate_on_submit():
        return _cancel_page(order, form, status=422)
    try:
        plan = refund_requests.plan_refund(
            order, full=True, amount_pence=None, reason=form.reason.data or "", note=form.note.data or "",
            restock=True, cancel=True, confirmed_pence=_pence(form.confirmed_pence.data),
        )
    except ShopError as error:
        return _cancel_page(order, form, error.message, 422)
    prompt = _fresh_password_for(order, plan.amount_pence)
    if prompt is not None:
        return prompt
    try:
        outcome = refund_requests.carry_out(order, plan, form.request_token.data, current_user.email)
    except ShopError as error:
        db.session.rollback()
        return _cancel_page(order, form, error.message, 422)
    db.session.commit()
    flash(_refund_message(order, outcome, cancelled=True), "success")
    return _back_to(order)


@bp.post("/orders/<reference>/notes")
def note(reference: str):
    order = _order_or_404(reference)
    form = NoteForm()
    return _run(order, form, lambda: desk.add_note(order, form.text.data, current_user.email), "Note added.")


@bp.post("/orders/<reference>/emails/<int:email_id>/resend")
def resend_email(reference: str, email_id: int):
    order = _order_or_404(reference)
    email = next((e for e in outbox.emails_for(order) if e.id == email_id), None)
    if email is None:
        abort(404, description="That email does not belong to this order.")

    def action():
        if outbox.resend(email, current_user.email) is None:
            raise ShopError("This order has no usable email address to send to.")

    return _run(order, ResendForm(), action, f"A new copy of the {email.kind} email is queued.")


@bp.get("/orders/<reference>/packing-slip")
def packing_slip(reference: str):
    return render_template("staff/orders/packing_slip.html", order=_order_or_404(reference))


@bp.get("/orders/<reference>/receipt.pdf")
def receipt(reference: str):
    """The same VAT receipt the customer downloads from their order's page."""
    order = _order_or_404(reference)
    if not order.is_paid:
        abort(404, description=f"Order {order.reference} has not been paid, so it has no receipt.")
    return receipt_response(order)



# --- orders paid by invoice ---------------------------------------------------------------------

@bp.get("/orders/invoices")
def invoices():
    """Invoices by state: waiting for approval (or to be issued), open, overdue (the most
    overdue first, by days), paid, closed."""
    view = request.args.get("view", "overdue")
    view = view if view in invoicing.VIEWS else "overdue"
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    per_page = current_app.config["STAFF_ORDERS_PER_PAGE"]
    listed, total, counts = invoicing.invoices(view, utcnow(), page, per_page)
    return render_template(
        "staff/orders/invoices.html", view=view, views=invoicing.VIEWS, listed=listed, total=total,
        counts=counts, page=page, pages=max((total + per_page - 1) // per_page, 1),
    )


def _terms() -> invoicing.InvoiceTerms:
    return invoicing.InvoiceTerms.from_config(current_app.config, seller_from_config(current_app.config))


@bp.post("/orders/<reference>/invoice/approve")
def approve_invoice(reference: str):
    """Approve the invoice (INVOICE_APPROVAL=manual) and have Stripe make and send it; or try
    again after Stripe could not be reached. A failure keeps the approval and says what Stripe
    said, for the next try."""
    order = _order_or_404(reference)
    form = ApproveInvoiceForm()
    if not form.validate_on_submit():
        flash("The form had expired: nothing was done. Try again.", "error")
        return _back_to(order)
    try:
        if invoicing.needs_approval(order):
            invoicing.approve(order, current_user.email)
        info = invoicing.issue(order, _terms(), current_user.email)
    except PaymentGatewayError as error:
        db.session.commit()  # the approval, and the error for the next try
        flash(f"The invoice for order {order.reference} was not sent: {error.message} Try again in a minute.",
              "error")
        return _back_to(order)
    except ShopError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back_to(order)
    db.session.commit()
    flash(f"Invoice {info.number} sent to {order.invoice.finance_email}; order {order.reference} is "
          f"{order.status_label.lower()}.", "success")
    return _back_to(order)


@bp.post("/orders/<reference>/invoice/decline")
def decline_invoice(reference: str):
    order = _order_or_404(reference)
    form = DeclineInvoiceForm()
    return _run(order, form, lambda: invoicing.decline(order, form.reason.data or "", current_user.email),
                f"Order {order.reference} declined: its copies are back in stock and the organisation is told.")


@bp.post("/orders/<reference>/invoice/resend")
def resend_invoice(reference: str):
    order = _order_or_404(reference)
    form = ResendInvoiceForm()

    def action() -> str:
        info = invoicing.resend(order, current_user.email, form.request_token.data or "")
        return f"Stripe is sending invoice {info.number} to {order.invoice.finance_email} again."

    return _run(order, form, action, "")


@bp.post("/orders/<reference>/invoice/void")
def void_invoice(reference: str):
    order = _order_or_404(reference)
    form = VoidInvoiceForm()

    def action() -> str:
        info = invoicing.void(order, form.reason.data or "", current_user.email, form.request_token.data or "")
        back = "" if order.dispatched_at else " Its copies are back in stock."
        return f"Invoice {info.number} is void; order {order.reference} is closed.{back} The organisation is told."

    return _run(order, form, action, "")


@bp.post("/orders/<reference>/invoice/paid")
def mark_invoice_paid(reference: str):
    order = _order_or_404(reference)
    form = MarkPaidForm()

    def action() -> str:
        info = invoicing.mark_paid_out_of_band(
            order, form.how.data or "", form.note.data or "", current_user.email, form.request_token.data or "",
        )
        return f"Invoice {info.number} marked paid ({order.invoice.paid_by}); order {order.reference} is " \
               f"{order.status_label.lower()}."

    return _run(order, form, action, "")


@bp.get("/orders/waiting")
def waiting_list():
    """Titles with paid orders waiting for copies, and titles readers asked to hear about."""
    return render_template(
        "staff/orders/waiting.html",
        titles=waiting.waiting_titles(),
        notify_counts=notify.counts_by_title(utcnow()),
    )


def _title_or_404(isbn: str):
    try:
        return get_by_isbn(isbns.normalise(isbn))
    except (InvalidISBN, NotFound) as error:
        abort(404, description=error.message)


@bp.get("/orders/waiting/<isbn>")
def waiting_queue(isbn: str):
    """One title's queue, oldest order first, with its two actions."""
    publication = _title_or_404(isbn)
    today = local_today()
    return render_template(
        "staff/orders/queue.html",
        pub=publication,
        queue=waiting.queue(publication),
        offer=offer(publication, today),
        may_ship=may_ship(publication, today),
        notify_count=notify.count_for(publication, utcnow()),
        allocate_form=AllocateForm(),
        new_date_form=NewDateForm(),
    )


def _back_to_queue(publication):
    return redirect(url_for(".waiting_queue", isbn=publication.isbn), code=303)


@bp.post("/orders/waiting/<isbn>/allocate")
def allocate(isbn: str):
    publication = _title_or_404(isbn)

    def action() -> str:
        result = waiting.allocate(publication, local_today(), current_user.email)
        return result.describe(publication.title)

    return run_action(AllocateForm(), action, "Allocated.", _back_to_queue(publication))


@bp.post("/orders/waiting/<isbn>/new-date")
def send_new_date(isbn: str):
    publication = _title_or_404(isbn)

    def action() -> str:
        sent, day = waiting.send_new_date(publication, local_today(), current_user.email)
        when = f"{day.day} {day:%B %Y}" if day else "no date yet"
        if not sent:
            return f"Everyone waiting had already been told the date ({when}); nothing was sent."
        return f"Sent the new date ({when}) to {sent} {'customer' if sent == 1 else 'customers'}."

    return run_action(NewDateForm(), action, "Sent.", _back_to_queue(publication))
