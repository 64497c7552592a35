"""The order desk: the list with its filters and CSV export, each order's page, and its
actions (dispatch, refund, note, resend an email, packing slip). Nested under ``staff``, whose
sign-in guard and ``no-store`` header apply here."""

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from shop import isbn as isbns
from shop.catalogue.availability import may_ship, offer
from shop.catalogue.queries import get_by_isbn
from shop.emails import outbox
from shop.errors import InvalidISBN, NotFound, ShopError
from shop.notify import services as notify
from shop.orders import desk, refunds, waiting
from shop.orders.desk import STATUS_FILTERS, OrderFilters
from shop.orders.export import order_lines_csv
from shop.payments.gateway import dashboard_url
from shop.staff.actions import run_action
from shop.staff.orders.forms import (
    AllocateForm,
    DispatchForm,
    NewDateForm,
    NoteForm,
    OrderFilterForm,
    RefundForm,
    ResendForm,
)
from shop.timeutil import local_today, utcnow

# No url_prefix: the export sits beside the list, at /staff/orders.csv.
bp = Blueprint("orders", __name__)


def _filters_from_request() -> tuple[OrderFilterForm, OrderFilters]:
    form = OrderFilterForm(request.args)
    form.status.choices = [(key, label) for key, (label, _) in STATUS_FILTERS.items()]
    if not request.args.get("status"):
        form.status.data = "placed"
    form.validate()
    isbn = None
    if form.isbn.data and not form.isbn.errors:
        try:
            isbn = isbns.normalise(form.isbn.data)
        except InvalidISBN as error:
            form.isbn.errors = [error.message]
    filters = OrderFilters(
        status=form.status.data if not form.status.errors else "placed",
        date_from=form.date_from.data if not form.date_from.errors else None,
        date_to=form.date_to.data if not form.date_to.errors else None,
        isbn=isbn,
        text=(form.q.data or "") if not form.q.errors else "",
    )
    return form, filters


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
    )


@bp.get("/orders.csv")
def csv():
    _, filters = _filters_from_request()
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(order_lines_csv(filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="orders-{stamp}.csv"'},
    )


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
        refund_form=RefundForm(),
        note_form=NoteForm(formdata=None),
        emails=outbox.emails_for(order),
        resend_form=ResendForm(),
        stripe_url=dashboard_url(order.payment_intent_id) if order.payment_intent_id else None,
        flags=desk.order_flags(order, utcnow(), current_app.config["DISPATCH_WARNING_DAYS"]),
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


@bp.post("/orders/<reference>/refund")
def refund(reference: str):
    order = _order_or_404(reference)
    form = RefundForm()

    def action():
        refunds.refund_order(order, form.amount.pence, form.request_token.data, current_user.email)

    return _run(order, form, action, f"Stripe refunded order {order.reference}.")


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
