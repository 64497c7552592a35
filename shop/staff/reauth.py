"""A fresh password before a sensitive action (a large refund): sudo mode for the desk.

A view calls ``require_fresh_password(purpose)`` after its form validates. When the password was
typed in this session within STAFF_REAUTH_MINUTES, it returns None and the action goes ahead.
Otherwise it answers with a page that asks for the password and carries every value of the form
in hidden fields, posting back to the same address: the action then goes ahead in that same
request once the password is right, and nothing the member of staff typed is lost. Attempts are
counted before each check (shop.staff.throttle); STAFF_REAUTH_LIMIT wrong passwords end the
session, so a stolen cookie cannot be used to guess the password.
"""

from datetime import timedelta

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField

from shop.extensions import db
from shop.staff import auth, sessions
from shop.staff.throttle import Attempt, Counter
from shop.timeutil import utcnow

FIELD = "confirm_password"


class ConfirmPasswordForm(FlaskForm):
    confirm_password = PasswordField("Your password")


def require_fresh_password(purpose: str, back: str) -> Response | None:
    """None when the action may go ahead; otherwise the response to send instead (the prompt,
    or the sign-in page once the session has ended). ``purpose`` completes "To …, type your
    password again"; ``back`` is where Cancel goes."""
    signed_in = auth.signed_in()
    config = current_app.config
    now = utcnow()
    if sessions.is_fresh(signed_in, now, timedelta(minutes=config["STAFF_REAUTH_MINUTES"])):
        return None
    form = ConfirmPasswordForm()
    status = 200
    if FIELD in request.form:
        attempt = Attempt([Counter(config["STAFF_REAUTH_LIMIT"], f"staff-reauth/{signed_in.session_id}", "")])
        if attempt.begin() is not None:
            sessions.revoke(signed_in.session_id, sessions.TOO_MANY_PASSWORDS, now)
            db.session.commit()
            flash("You were signed out after too many wrong passwords. Please sign in again.", "error")
            return redirect(url_for("staff.login"), code=303)
        if auth.password_matches(auth.account(), request.form[FIELD]):
            attempt.succeeded()
            sessions.password_confirmed(signed_in.session_id, now)
            db.session.commit()  # kept even if the action then fails
            return None
        form.confirm_password.errors = ["That is not your password. Type it again."]
        status = 401
    carried = [
        (name, value) for name, value in request.form.items(multi=True) if name not in ("csrf_token", FIELD)
    ]
    page = render_template(
        "staff/confirm_password.html", form=form, carried=carried, purpose=purpose,
        action=request.path, back=back,
    )
    return make_response(page, status)
