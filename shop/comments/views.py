"""Readers' side of comments: posting one, the page that says it waits for moderation, and what
the publication page's comments section reads (a template global, so that the catalogue, which
comments depend on, need not know about comments).

The publication page shows its comments from the page cache (shop.web.pagecache): its key is the
publication's row, and migration 0015's triggers change that row's ``comments_version`` whenever
an approved comment changes, so a cached page is never stale. The form's signed time is a hole
the cache fills for every response (comments.stamp). A reader who only reads gets no cookie;
posting needs none either, and answers with pages that set none.
"""

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter.errors import RateLimitExceeded

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.catalogue.queries import get_by_isbn
from shop.comments import queries, services, stamp
from shop.comments.forms import CommentForm
from shop.comments.text import comment_date, paragraphs
from shop.errors import InvalidISBN, NotFound
from shop.extensions import csrf, db, limiter
from shop.timeutil import local, utcnow

log = logging.getLogger(__name__)
bp = Blueprint("comments", __name__)

TRAPPED = (
    "We could not accept this comment, because a field meant to stay empty was filled in (as "
    "robots do). Your comment is below: please send it again from this page."
)
TOO_MANY = (
    "Too many comments have been sent from your internet address recently, so this one was not "
    "sent. Your comment is below: please copy it, and send it again later."
)
CLOSED = "Comments on this publication are closed, so yours was not sent. Your comment is below."

bp.add_app_template_filter(paragraphs, "comment_paragraphs")
bp.add_app_template_filter(comment_date, "comment_date")
bp.add_app_template_filter(lambda moment: local(moment).date().isoformat(), "comment_day")


@bp.app_template_global("published_comments")
def published_comments(publication: Publication) -> list:
    """The publication's approved comments, read once per request (the count near the top of
    the page and the list below it both use it)."""
    cache = g.setdefault("published_comments", {})
    if publication.id not in cache:
        cache[publication.id] = queries.published(publication.id)
    return cache[publication.id]


def _publication_or_404(isbn_text: str) -> Publication:
    try:
        return get_by_isbn(isbns.normalise(isbn_text))
    except (InvalidISBN, NotFound) as error:
        abort(404, description=error.message)


def _form_page(publication: Publication, form: CommentForm, status: int, message: str | None = None):
    """The form again, with what the reader typed, the problems, and a new signed time."""
    return render_template(
        "comments/form.html",
        pub=publication,
        values=form.values(),
        errors=form.field_errors(),
        message=message,
        shown=stamp.issue(publication.isbn),
    ), status


def _too_many(_limit) -> Response:
    """Flask-Limiter's answer when an address is over COMMENTS_LIMIT_PER_ADDRESS: the form again,
    with the reader's text."""
    publication = _publication_or_404((request.view_args or {}).get("isbn_text", ""))
    log.info("Comment on %s refused: too many from this address", publication.isbn)
    form = CommentForm()
    form.validate()
    return current_app.make_response(_form_page(publication, form, 429, TOO_MANY))


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded):
    # The app's error pages would show a generic 429 and lose the comment: use _too_many's page.
    return error.get_response()


@bp.post("/publications/<isbn_text>/comments")
@csrf.exempt  # guarded by shop.web.security's cross-origin check instead; see CommentForm
@limiter.limit(
    lambda: current_app.config["COMMENTS_LIMIT_PER_ADDRESS"], on_breach=_too_many
)
def post(isbn_text: str):
    """Every post counts toward the address's limit, whatever becomes of it."""
    publication = _publication_or_404(isbn_text)
    form = CommentForm()
    config = current_app.config
    if form.is_trapped:
        log.info("Comment on %s refused: the hidden field was filled in", publication.isbn)
        return _form_page(publication, form, 400, TRAPPED)
    valid = form.validate()
    if not publication.comments_open:
        return _form_page(publication, form, 403, CLOSED)
    try:
        stamp.check(
            form.shown.data, publication.isbn, config["COMMENTS_MIN_SECONDS"],
            config["COMMENTS_FORM_MAX_AGE_HOURS"],
        )
    except stamp.StampRefused as refused:
        log.info("Comment on %s refused: %s", publication.isbn, type(refused).__name__)
        return _form_page(publication, form, 422, refused.message)
    if not valid:
        return _form_page(publication, form, 422)
    try:
        services.post_comment(
            publication, form.details(), form.email.data, config["COMMENTS_MAX_LINKS"], utcnow()
        )
    except services.CommentError as error:
        db.session.rollback()
        return _form_page(publication, form, 422, error.message)
    db.session.commit()
    return redirect(url_for(".sent", isbn_text=publication.isbn), code=303)


@bp.get("/publications/<isbn_text>/comments")
def comments(isbn_text: str):
    """Where the form posts, asked for as a page (a reload, a bookmark): the comments section."""
    publication = _publication_or_404(isbn_text)
    return redirect(
        url_for("catalogue.publication", isbn_text=publication.isbn, _anchor="comments"), code=303
    )


@bp.get("/publications/<isbn_text>/comments/sent")
def sent(isbn_text: str):
    return render_template("comments/sent.html", pub=_publication_or_404(isbn_text))
