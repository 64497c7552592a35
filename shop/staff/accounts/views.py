"""Staff accounts, for admins: the list with roles and two-factor state, invitations by email,
each account's roles, disabling and enabling, resets, and its audit trail; and the one-time
link where an invited (or reset) member of staff sets a password. Nested under ``staff``."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from shop.errors import ShopError
from shop.extensions import db
from shop.staff import access, auth, roles, sessions
from shop.staff.accounts import services
from shop.staff.accounts.forms import AccountActionForm, InviteForm, RolesForm, SetPasswordForm
from shop.staff.actions import run_action
from shop.staff.models import StaffLink, StaffUser
from shop.timeutil import as_utc, local, utcnow

# No url_prefix: the accounts at /staff/accounts, the links at /staff/welcome/<token>.
bp = Blueprint("accounts", __name__)


def _link_url(token: str) -> str:
    return current_app.config["SHOP_BASE_URL"] + url_for(".welcome", token=token)


def _open_links() -> dict[int, StaffLink]:
    """Each account's newest link, for the list's "invited" state."""
    newest: dict[int, StaffLink] = {}
    for link in db.session.scalars(db.select(StaffLink).where(StaffLink.used_at.is_(None)).order_by(StaffLink.id)):
        newest[link.user_id] = link
    return newest


def _state(user: StaffUser, link: StaffLink | None, now) -> str:
    if not user.active:
        return "Disabled"
    if not user.has_password:
        if link is not None and as_utc(link.expires_at) > now:
            return f"Link sent, valid until {local(link.expires_at):%-d %b %H:%M}"
        return "Link expired: send a reset"
    return "Active"


def _index_page(form: InviteForm, status: int = 200):
    now = utcnow()
    links = _open_links()
    accounts = [
        (user, _state(user, links.get(user.id), now), access.two_factor_required(user))
        for user in services.all_accounts()
    ]
    return render_template(
        "staff/accounts/index.html", accounts=accounts, form=form, roles_label=roles.label,
        ordered=roles.ordered,
    ), status


@bp.get("/accounts")
def index():
    return _index_page(InviteForm(formdata=None))


@bp.post("/accounts/invite")
def invite():
    """Invite someone: the form comes back with what was typed if anything is wrong."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _index_page(form, 422)
    if not form.roles.data:
        form.roles.errors = ["Choose at least one role."]
        return _index_page(form, 422)
    try:
        user = services.invite(
            form.email.data or "", form.roles.data, auth.account(), utcnow(), _link_url,
            current_app.config["SHOP_NAME"],
        )
    except ShopError as error:
        db.session.rollback()
        form.email.errors = [error.message]
        return _index_page(form, 422)
    db.session.commit()
    hours = int(services.LINK_LIFETIME.total_seconds() // 3600)
    flash(f"Invitation sent to {user.email}: the link works once, for {hours} hours.", "success")
    return redirect(url_for(".index"), code=303)


def _account_or_404(user_id: int) -> StaffUser:
    user = services.get(user_id)
    if user is None:
        abort(404, description="There is no such staff account.")
    return user


@bp.get("/accounts/<int:user_id>")
def show(user_id: int):
    user = _account_or_404(user_id)
    return render_template(
        "staff/accounts/show.html", user=user, roles_form=RolesForm(formdata=None, roles=list(user.roles)),
        action_form=AccountActionForm(), history=services.history(user),
        required=access.two_factor_required(user), is_me=user.id == current_user.id,
        link=_open_links().get(user.id), now=utcnow(), roles_label=roles.label, ordered=roles.ordered,
    )


def _back_to(user: StaffUser):
    return redirect(url_for(".show", user_id=user.id), code=303)


@bp.post("/accounts/<int:user_id>/roles")
def set_roles(user_id: int):
    user = _account_or_404(user_id)
    form = RolesForm()

    def action() -> str:
        changed = services.set_roles(user, form.roles.data or [], auth.account(), utcnow())
        if not changed:
            return "Nothing changed."
        held = ", ".join(roles.label(role) for role in roles.ordered(user.roles)) or "none"
        return f"{user.email} now has these roles: {held}."

    return run_action(form, action, "Roles saved.", _back_to(user))


@bp.post("/accounts/<int:user_id>/disable")
def disable(user_id: int):
    user = _account_or_404(user_id)
    return run_action(
        AccountActionForm(), lambda: services.disable(user, auth.account(), utcnow()),
        f"{user.email} is disabled and signed out everywhere.", _back_to(user),
    )


@bp.post("/accounts/<int:user_id>/enable")
def enable(user_id: int):
    user = _account_or_404(user_id)
    return run_action(
        AccountActionForm(), lambda: services.enable(user, auth.account(), utcnow()),
        f"{user.email} can sign in again.", _back_to(user),
    )


@bp.post("/accounts/<int:user_id>/reset")
def reset(user_id: int):
    user = _account_or_404(user_id)
    return run_action(
        AccountActionForm(),
        lambda: services.reset(user, auth.account(), utcnow(), _link_url, current_app.config["SHOP_NAME"]),
        f"{user.email}'s password and two-factor sign-in no longer work; a link to set a new "
        "password is on its way to them.",
        _back_to(user),
    )


# --- the one-time link ------------------------------------------------------------------------

@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str):
    """Set a password from an invitation or reset link; then signed in (and, when the roles need
    it, on to setting up two-factor sign-in)."""
    now = utcnow()
    link = services.find_link(token, now)
    if link is None:
        response = current_app.make_response((render_template("staff/accounts/link_gone.html"), 404))
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    form = SetPasswordForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                user = services.accept(link, form.password.data or "", current_app.config["STAFF_PASSWORD_MIN_LENGTH"], now)
            except ShopError as error:
                db.session.rollback()
                form.password.errors = [error.message]
            else:
                session_token = sessions.start(user, request.user_agent.string, request.remote_addr, now)
                user.last_login_at = now
                db.session.commit()
                flash("Your password is set, and you are signed in.", "success")
                signed_in = make_response(redirect(url_for("staff.dashboard"), code=303))
                sessions.set_cookie(current_app, signed_in, session_token)
                return signed_in
    response = current_app.make_response((render_template(
        "staff/accounts/welcome.html", form=form, user=link.user, invited=link.purpose == "invite",
        min_length=current_app.config["STAFF_PASSWORD_MIN_LENGTH"],
    ), status))
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response
