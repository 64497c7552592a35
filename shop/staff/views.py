"""The staff desk. Every route but sign-in needs an active staff account: the guard is the
blueprint's own ``before_request``, so a new route cannot forget it."""

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from shop import isbn as isbns
from shop.checkout.gateway import dashboard_url
from shop.errors import InvalidISBN, NotFound, ShopError
from shop.extensions import db, limiter
from shop.orders import desk, refunds
from shop.orders.desk import STATUS_FILTERS, OrderFilters
from shop.orders.export import order_lines_csv
from shop.staff import auth
from shop.staff.actions import run_action
from shop.emails import outbox
from shop.staff.forms import (
    DispatchForm,
    LoginForm,
    LogoutForm,
    NoteForm,
    OrderFilterForm,
    RefundForm,
    ResendForm,
)
from shop.timeutil import utcnow

bp = Blueprint("staff", __name__, url_prefix="/staff")

OPEN_ENDPOINTS = {"staff.login"}
SIGN_IN_FAILED = "That email and password did not match an active staff account."


@bp.before_request
def require_staff():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if current_user.is_authenticated:
        idle_limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
        last_seen = session.get("staff_seen", 0)
        now = int(time.time())
        if now - last_seen <= idle_limit:
            if now - last_seen >= 60:  # re-signing the cookie on every request costs; a minute is precise enough
                session["staff_seen"] = now
            return None
        logout_user()
        flash("You were signed out after a period of inactivity. Please sign in again.", "info")
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    abort(401, description="Please sign in as staff to do that.")


@bp.context_processor
def signed_in_user():
    return {"current_user": current_user._get_current_object()}


@bp.after_request
def no_store(response: Response) -> Response:
    # Customer data must not linger in shared caches or the browser's back button history.
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(target: str | None) -> str:
    """Only our own staff pages; never another host (no open redirect)."""
    default = url_for("staff.dashboard")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or "\\" in target:
        return default
    return target


def _failed_sign_in(response: Response) -> bool:
    return response.status_code != 303


def _account_key() -> str:
    return "staff-login:" + auth.normalise_email(request.form.get("email", ""))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["STAFF_LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed_sign_in,
    error_message="Too many sign-in attempts from this address. Please wait and try again.",
)
@limiter.limit(
    lambda: current_app.config["STAFF_LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed_sign_in,
    error_message="Too many sign-in attempts for this account. Please wait and try again.",
)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = auth.authenticate(form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            session["staff_seen"] = int(time.time())
            return redirect(_safe_next(request.args.get("next")), code=303)
        flash(SIGN_IN_FAILED, "error")
        return render_template("staff/login.html", form=form), 401
    return render_template("staff/login.html", form=form)


@bp.post("/logout")
def logout():
    if LogoutForm().validate_on_submit():
        logout_user()
        session.pop("staff_seen", None)
        flash("You are signed out.", "info")
    return redirect(url_for("staff.login"), code=303)


@bp.get("")
def dashboard():
    config = current_app.config
    figures = desk.dashboard(utcnow(), config["LOW_STOCK_THRESHOLD"], config["DISPATCH_WARNING_DAYS"])
    return render_template("staff/dashboard.html", figures=figures)


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
def orders():
    form, filters = _filters_from_request()
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    config = current_app.config
    result = desk.search_orders(
        filters, page, config["STAFF_ORDERS_PER_PAGE"], utcnow(), config["DISPATCH_WARNING_DAYS"]
    )
    return render_template(
        "staff/orders.html",
        form=form,
        result=result,
    )


@bp.get("/orders.csv")
def orders_csv():
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
def order(reference: str):
    order = _order_or_404(reference)
    return render_template(
        "staff/order.html",
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
    return redirect(url_for("staff.order", reference=order.reference), code=303)


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
    return render_template("staff/packing_slip.html", order=_order_or_404(reference))


from shop.staff.catalogue_views import bp as catalogue_bp; bp.register_blueprint(catalogue_bp)  # noqa: E402,E702
