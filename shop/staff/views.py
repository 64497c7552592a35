"""The staff desk: sign-in, sign-out and the dashboard. Every route here and in the nested
blueprints (``staff.orders``, ``staff.catalogue``, ``staff.comments``) but sign-in needs an active staff account:
the guard is this blueprint's own ``before_request``, so a new route cannot forget it."""

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
    url_for,
)
from flask_login import current_user, login_user, logout_user

from shop.comments import queries as comment_queries
from shop.extensions import db, limiter
from shop.orders import reports
from shop.staff import auth
from shop.staff.forms import LoginForm, LogoutForm
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
    figures = reports.dashboard(utcnow(), config["LOW_STOCK_THRESHOLD"], config["DISPATCH_WARNING_DAYS"])
    return render_template(
        "staff/dashboard.html", figures=figures, waiting_comments=comment_queries.waiting()
    )
