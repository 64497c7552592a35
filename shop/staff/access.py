"""What the staff guard checks once someone is signed in: the second factor, then the roles.

A session whose account has two-factor sign-in on, or whose roles need it
(STAFF_REQUIRE_2FA_ROLES), reaches only the second step (``roles.SECOND_STEP``) until it gives a
code or enrols one. Then each endpoint is open to the roles ``roles.ENDPOINT_ROLES`` gives it;
anything else gets a 403 page naming the roles that would open it.
"""

from flask import abort, current_app, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.staff import auth, roles
from shop.staff.models import StaffUser
from shop.staff.sessions import SignedIn


def required_roles() -> frozenset[str]:
    return frozenset(current_app.config["STAFF_REQUIRE_2FA_ROLES"])


def two_factor_required(user: StaffUser | SignedIn) -> bool:
    """Whether the account's roles oblige it to use a second factor."""
    return bool(user.roles & required_roles())


def second_factor_due(user: SignedIn) -> bool:
    """Whether this session must still give (or first set up) a second factor."""
    if user.second_factor_at is not None:
        return False
    return user.two_factor or two_factor_required(user)


_SHOWN = "staff_access_shown"


def _shown() -> tuple[bool, frozenset[str]] | None:
    """(owes a second factor, roles) of the signed-in member of staff, or None: what the menu and
    a page's links are drawn from, worked out at the first question of a request (a page asks a
    dozen times, 14 µs each). Asked first while a page renders, so after anything the view
    changed (enrolling a second factor renders the recovery codes); the guard (``check``) does
    not use it."""
    if _SHOWN not in g:
        user = current_user._get_current_object()
        setattr(g, _SHOWN, (second_factor_due(user), user.roles) if isinstance(user, SignedIn) else None)
    return getattr(g, _SHOWN)


def pending() -> bool:
    """Whether the signed-in member of staff still owes this session a second factor (for pages)."""
    shown = _shown()
    return shown is not None and shown[0]


def may(endpoint: str) -> bool:
    """For templates: whether the signed-in member of staff may use ``endpoint`` now."""
    shown = _shown()
    return shown is not None and not shown[0] and roles.allows(shown[1], endpoint)


def check(endpoint: str | None) -> Response | None:
    """None when the signed-in member of staff may go on to ``endpoint``; else the answer."""
    user = auth.signed_in()
    if second_factor_due(user):
        if endpoint in roles.SECOND_STEP:
            return None
        if request.method not in ("GET", "HEAD"):
            abort(401, description="Finish signing in (the code from your authenticator app) to do that.")
        step = "staff.me.two_factor" if user.two_factor else "staff.me.enrol"
        return redirect(url_for(step, next=request.full_path.rstrip("?")))
    if roles.allows(user.roles, endpoint):
        return None
    needed = roles.needed_for(endpoint)
    current_app.logger.info("Staff %s refused %s (roles %s)", user.email, endpoint, sorted(user.roles))
    page = render_template(
        "staff/refused.html",
        needed=roles.describe(needed) if needed else None,
        held=[roles.label(role) for role in roles.ordered(user.roles)],
    )
    return make_response(page, 403)
