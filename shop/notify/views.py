"""Public notify-me pages: the request (from the publication page), the confirmation, the
one-click unsubscribe. None of them needs a session, so a reader gets no cookie from them: the
request form is guarded by the cross-origin check like the add-to-basket form, and the links
carry signed tokens (shop.notify.links)."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from shop import isbn as isbns
from shop.catalogue.availability import offer
from shop.catalogue.queries import get_by_isbn
from shop.errors import InvalidISBN, NotFound
from shop.extensions import csrf, db, limiter
from shop.notify import links, services
from shop.notify.services import NotifyError
from shop.timeutil import local_today, utcnow

bp = Blueprint("notify", __name__, url_prefix="/notify")


def _publication(isbn_text: str):
    try:
        return get_by_isbn(isbns.normalise(isbn_text or ""))
    except (InvalidISBN, NotFound):
        abort(404, description="We have no publication with that ISBN.")


@bp.post("")
@csrf.exempt  # no session to hold a token: guarded by shop.web.security's cross-origin check
@limiter.limit(
    lambda: current_app.config["NOTIFY_LIMIT_PER_ADDRESS"],
    error_message="Too many requests from this address. Please wait a while and try again.",
)
def ask():
    publication = _publication(request.form.get("isbn", "")[:32])
    typed = request.form.get("email", "")[:320]
    try:
        services.ask(
            publication, typed, local_today(), utcnow(),
            current_app.config["NOTIFY_CONFIRM_DAYS"], links.shop_links(),
        )
    except NotifyError as error:
        db.session.rollback()
        # The form again, with what they typed and the message beside the field.
        return render_template(
            "notify/ask.html", pub=publication, email=typed, error=error.message,
            offer=offer(publication, local_today()),
        ), 422
    db.session.commit()
    # The same answer whether or not the address asked before: the page tells no one who has.
    return redirect(url_for(".sent", isbn=publication.isbn), code=303)


@bp.get("/sent/<isbn>")
def sent(isbn: str):
    return render_template(
        "notify/sent.html", pub=_publication(isbn),
        confirm_days=current_app.config["NOTIFY_CONFIRM_DAYS"],
    )


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the authority; no session
def confirm(token: str):
    """GET shows a button, POST confirms: mail scanners that open every link confirm nothing."""
    request_id = links.request_id_from(token)
    if request.method == "GET" or request_id is None:
        status = 200 if request_id is not None else 404
        return render_template("notify/confirm.html", token=token, valid=request_id is not None), status
    publication = services.confirm(request_id, utcnow(), local_today(), links.shop_links())
    db.session.commit()
    return render_template("notify/confirmed.html", pub=publication), 200 if publication else 410


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail programs POST "List-Unsubscribe=One-Click" here, with no session
def unsubscribe(token: str):
    """GET shows a button; POST (from it, or a mail program's one-click) unsubscribes."""
    email = links.email_from(token)
    if email is None:
        abort(404, description="That unsubscribe link is not one of ours. Use the link in the email.")
    if request.method == "GET":
        return render_template("notify/unsubscribe.html", token=token, done=False)
    services.unsubscribe(email)
    db.session.commit()
    return render_template("notify/unsubscribe.html", token=token, done=True)
