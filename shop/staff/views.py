"""The staff desk: sign-in, sign-out and the dashboard. Every route here and in the nested
blueprints (``staff.orders``, ``staff.catalogue``, ``staff.comments``, ``staff.accounts``,
``staff.me``) but sign-in and the one-time password links needs an active staff account, its
second factor where it has or needs one, and a role that opens it (shop.staff.roles): the guard
is this blueprint's own ``before_request``, so a new route cannot forget it."""

import csv
import io
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from shop.comments import queries as comment_queries
from shop.extensions import db
from shop.money import decimal_pounds
from shop.orders import reports
from shop.spreadsheet import defuse
from shop.staff import access, auth, charts, roles, sessions, throttle
from shop.staff.forms import LoginForm, LogoutForm
from shop.timeutil import utcnow

bp = Blueprint("staff", __name__, url_prefix="/staff")

OPEN_ENDPOINTS = roles.PUBLIC
SIGN_IN_FAILED = "That email and password did not match an active staff account."


@bp.before_request
def require_staff():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if current_user.is_authenticated:  # loads the session record (shop.staff.auth.load_staff)
        return access.check(request.endpoint)  # the second factor, then the roles
    ended = getattr(g, auth.ENDED, None)
    if ended == sessions.IDLE:
        flash("You were signed out after a period of inactivity. Please sign in again.", "info")
    elif ended == sessions.EXPIRED:
        hours = current_app.config["STAFF_SESSION_HOURS"]
        flash(f"You were signed in for {hours} hours, the longest a session lasts. Please sign in again.", "info")
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    abort(401, description="Please sign in as staff to do that.")


@bp.context_processor
def signed_in_user():
    return {"current_user": current_user._get_current_object(), "may": access.may,
            "second_factor_pending": access.pending}


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
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        return default  # a line break would end the Location header (and be a 500)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or "\\" in target:
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in. Each attempt is counted before the password is checked (shop.staff.throttle);
    a right one starts a session record and sets the staff cookie (shop.staff.sessions)."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("staff/login.html", form=form)
    config = current_app.config
    email = auth.normalise_email(form.email.data)
    device_cookie = config["STAFF_KNOWN_BROWSER_COOKIE_NAME"]
    browser = throttle.known_browser(request.cookies.get(device_cookie), email)
    attempt = throttle.Attempt(throttle.sign_in_counters(email, request.remote_addr or "", browser))
    refused = attempt.begin()
    if refused is not None:
        flash(refused.refusal, "error")
        response = make_response(render_template("staff/login.html", form=form), 429)
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response
    user = auth.authenticate(email, form.password.data)
    if user is None:
        flash(SIGN_IN_FAILED, "error")
        return render_template("staff/login.html", form=form), 401
    attempt.succeeded()
    token = sessions.start(user, request.user_agent.string, request.remote_addr, utcnow())
    db.session.commit()
    response = redirect(_safe_next(request.args.get("next")), code=303)
    sessions.set_cookie(current_app, response, token)
    if browser is None:
        response.set_cookie(
            device_cookie, throttle.known_browser_token(email), path=url_for("staff.login"),
            max_age=config["STAFF_KNOWN_BROWSER_DAYS"] * 86400, httponly=True, samesite="Lax",
            secure=config["SESSION_COOKIE_SECURE"],
        )
    return response


@bp.post("/logout")
def logout():
    response = redirect(url_for("staff.login"), code=303)
    if LogoutForm().validate_on_submit():
        sessions.revoke(auth.signed_in().session_id, sessions.SIGNED_OUT, utcnow())
        db.session.commit()
        sessions.delete_cookie(current_app, response)
        flash("You are signed out.", "info")
    return response


@bp.get("")
def dashboard():
    config = current_app.config
    figures = reports.dashboard(utcnow(), config["LOW_STOCK_THRESHOLD"], config["DISPATCH_WARNING_DAYS"])
    return render_template(
        "staff/dashboard.html",
        figures=figures,
        waiting_comments=comment_queries.waiting(),
        daily_chart=charts.daily_chart(figures.daily),
        title_chart=charts.title_chart(
            [(title, copies) for _, title, copies, _ in figures.sales[: reports.TITLES_CHARTED]]
        ),
    )


def _csv_download(name: str, header: list[str], rows) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{utcnow():%Y%m%d}.csv"'},
    )


@bp.get("/dashboard/copies-per-day.csv")
def copies_per_day_csv():
    """The daily chart's figures."""
    days = reports.copies_per_day(utcnow())
    return _csv_download("copies-per-day", ["date", "copies"], ((day.isoformat(), copies) for day, copies in days))


@bp.get("/dashboard/copies-by-title.csv")
def copies_by_title_csv():
    """The title chart's figures, for every title sold."""
    return _csv_download(
        "copies-by-title", ["isbn", "title", "copies", "sales"],
        ((isbn, defuse(title), copies, decimal_pounds(revenue)) for isbn, title, copies, revenue in reports.copies_by_title()),
    )
