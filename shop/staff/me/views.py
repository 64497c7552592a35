"""One's own account: the second step of signing in (a code from the authenticator app, or a
recovery code), setting up two-factor sign-in (forced on the first sign-in when the roles need
it), new recovery codes, and turning it off where the roles allow. Nested under ``staff``."""

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shop.extensions import db
from shop.staff import access, auth, sessions, throttle, totp
from shop.staff.accounts.services import audit
from shop.staff.me.forms import ButtonForm, CodeForm, EnrolForm
from shop.staff.reauth import require_fresh_password
from shop.staff.views import _safe_next
from shop.timeutil import utcnow

bp = Blueprint("me", __name__, url_prefix="/me")

ENROL_SALT = "staff-totp-enrol"
ENROL_MAX_AGE = 30 * 60  # a secret shown on the setup page is good for half an hour
WRONG_CODE = "That code did not work. Type the code your app shows now, or one of your recovery codes."


def _next() -> str:
    return _safe_next(request.args.get("next"))


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ENROL_SALT)


@bp.get("")
def show():
    user = auth.account()
    return render_template(
        "staff/me/show.html", user=user, required=access.two_factor_required(user),
        codes_left=totp.recovery_codes_left(user) if user.two_factor else 0, form=ButtonForm(),
    )


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor():
    """The second step of signing in. Each code is counted before it is checked, per account
    (shop.staff.throttle); when the count is spent the session ends."""
    user = auth.account()
    signed_in = auth.signed_in()
    if not user.two_factor:
        return redirect(url_for(".enrol", next=request.args.get("next")), code=303)
    if signed_in.second_factor_at is not None:
        return redirect(_next(), code=303)
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("staff/me/two_factor.html", form=form), 422 if request.method == "POST" else 200
    now = utcnow()
    attempt = throttle.Attempt(throttle.second_factor_counters(user.id))
    if attempt.begin() is not None:
        sessions.revoke(signed_in.session_id, sessions.TOO_MANY_CODES, now)
        db.session.commit()
        flash(throttle.WRONG_CODES, "error")
        response = redirect(url_for("staff.login"), code=303)
        sessions.delete_cookie(current_app, response)
        return response
    code = form.code.data or ""
    if totp.is_totp_shaped(code):
        passed, used_recovery = totp.use_code(user, code, now), False
    else:
        passed, used_recovery = totp.use_recovery_code(user, code, now), True
    if not passed:
        db.session.commit()  # nothing to keep but the attempt, counted already
        form.code.errors = [WRONG_CODE]
        return render_template("staff/me/two_factor.html", form=form), 401
    attempt.succeeded()
    auth.second_factor_given(now)
    if used_recovery:
        left = totp.recovery_codes_left(user)
        audit(user, "recovery_code_used", user, now, left=left)
        flash(f"You signed in with a recovery code; {left} {'is' if left == 1 else 'are'} left. "
              "Make new ones on your account page if you are running out.", "info")
    db.session.commit()
    return redirect(_next(), code=303)


def _enrol_page(form: EnrolForm, secret: str, status: int = 200):
    user = auth.account()
    uri = totp.provisioning_uri(secret, user.email, current_app.config["SHOP_NAME"])
    form.secret.data = _signer().dumps({"user": user.id, "secret": secret})
    return make_response(render_template(
        "staff/me/enrol.html", form=form, qr=totp.qr_data_url(uri), secret=totp.grouped(secret),
        required=access.two_factor_required(user), forced=access.pending(),
    ), status)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
def enrol():
    """Set up two-factor sign-in: scan the QR code (or type the secret), type the code the app
    shows; then the recovery codes, shown once."""
    user = auth.account()
    if user.two_factor:
        if auth.signed_in().second_factor_at is None:
            return redirect(url_for(".two_factor", next=request.args.get("next")), code=303)
        flash("Two-factor sign-in is already on.", "info")
        return redirect(url_for(".show"), code=303)
    form = EnrolForm()
    if request.method == "GET":
        return _enrol_page(form, totp.new_secret())
    try:
        carried = _signer().loads(form.secret.data or "", max_age=ENROL_MAX_AGE)
    except BadSignature:
        carried = None
    if not isinstance(carried, dict) or carried.get("user") != user.id or not isinstance(carried.get("secret"), str):
        flash("That setup page was too old. Scan this new code instead.", "error")
        return _enrol_page(EnrolForm(formdata=None), totp.new_secret(), 422)
    secret = carried["secret"]
    if not form.validate_on_submit():
        return _enrol_page(form, secret, 422)
    now = utcnow()
    try:
        codes = totp.enrol(user, secret, form.code.data or "", now)
    except totp.TwoFactorError as error:
        db.session.rollback()
        form.code.errors = [error.message]
        return _enrol_page(form, secret, 422)
    auth.second_factor_given(now)
    audit(user, "two_factor_on", user, now)
    db.session.commit()
    return render_template("staff/me/recovery_codes.html", codes=codes, next=_next(), enrolled=True)


@bp.post("/recovery-codes")
def recovery_codes():
    """New recovery codes (the old ones stop working), after the password is typed again."""
    user = auth.account()
    form = ButtonForm()
    if not user.two_factor or not form.validate_on_submit():
        return redirect(url_for(".show"), code=303)
    prompt = require_fresh_password("make new recovery codes", url_for(".show"))
    if prompt is not None:
        return prompt
    now = utcnow()
    codes = totp.new_recovery_codes(user, now)
    audit(user, "recovery_codes_renewed", user, now)
    db.session.commit()
    return render_template("staff/me/recovery_codes.html", codes=codes, next=url_for(".show"), enrolled=False)


@bp.post("/two-factor/off")
def turn_off():
    """Turn two-factor sign-in off, where the account's roles allow, after the password."""
    user = auth.account()
    form = ButtonForm()
    back = redirect(url_for(".show"), code=303)
    if not user.two_factor or not form.validate_on_submit():
        return back
    if access.two_factor_required(user):
        flash("Your roles need two-factor sign-in, so it stays on.", "error")
        return back
    prompt = require_fresh_password("turn two-factor sign-in off", url_for(".show"))
    if prompt is not None:
        return prompt
    totp.turn_off(user)
    audit(user, "two_factor_off", user, utcnow())
    db.session.commit()
    flash("Two-factor sign-in is off. Your password alone now signs you in.", "success")
    return back
