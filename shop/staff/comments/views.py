"""Moderating reader comments: the queue (newest first, with their publication), publishing,
rejecting or marking as spam one at a time or ticked together, editing (audited), opening and
closing a publication's comments, and erasing a person's details.

Nested under the staff blueprint (``staff.comments.*``, ``/staff/comments``), so the staff
sign-in guard and ``no-store`` header apply to every page here. Thin views: validate, call one
service, commit once, redirect."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from shop import isbn as isbns
from shop.catalogue.queries import get_by_isbn
from shop.comments import queries, services
from shop.comments.models import STATUS_LABELS
from shop.comments.queries import QUEUE_FILTERS
from shop.errors import InvalidISBN, NotFound, ShopError
from shop.extensions import db
from shop.staff.actions import run_action
from shop.staff.comments.forms import (
    CommentsOpenForm,
    EditCommentForm,
    EraseForm,
    ModerateForm,
    QueueFilterForm,
)
from shop.timeutil import utcnow

bp = Blueprint("comments", __name__, url_prefix="/comments")

MAX_PAGE = 100_000  # keeps OFFSET inside a 64-bit integer
FIELD_LABELS = {
    "status": "Status", "name": "Name", "job_title": "Job title", "organisation": "Organisation",
    "text": "Comment", "email": "Email", "comments_open": "Comments open", "text_removed": "Text removed",
}
ACTION_LABELS = {
    "posted": "Posted", "approved": "Published", "rejected": "Rejected", "spam": "Marked as spam",
    "edited": "Edited", "erased": "Author's details erased", "imported": "Imported",
    "opened": "Comments opened", "closed": "Comments closed",
}


def _page() -> int:
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def _labels() -> dict:
    return {"status_labels": STATUS_LABELS, "field_labels": FIELD_LABELS, "action_labels": ACTION_LABELS}


@bp.get("")
def index():
    form = QueueFilterForm(request.args)
    status = form.status.data if form.validate() else "pending"
    result = queries.queue(status, _page(), current_app.config["STAFF_COMMENTS_PER_PAGE"])
    return render_template(
        "staff/comments/index.html",
        filter_form=form,
        status=status,
        filters=QUEUE_FILTERS,
        result=result,
        moderate_form=ModerateForm(formdata=None),
        back=request.full_path.rstrip("?"),
        **_labels(),
    )


@bp.post("/moderate")
def moderate():
    form = ModerateForm()
    back = redirect(form.back_to(url_for(".index")), code=303)

    def action() -> str:
        return services.moderate(form.ids, form.status, current_user.email, utcnow()).describe()

    return run_action(form, action, "Done.", back)


def _comment_or_404(number: int):
    try:
        return queries.by_number(number)
    except NotFound as error:
        abort(404, description=error.message)


def _comment_page(comment, form: EditCommentForm, status: int = 200, conflict: bool = False):
    return render_template(
        "staff/comments/show.html",
        comment=comment,
        form=form,
        conflict=conflict,
        moderate_form=ModerateForm(formdata=None),
        history=queries.history(comment.id),
        **_labels(),
    ), status


@bp.get("/<int:number>")
def show(number: int):
    comment = _comment_or_404(number)
    form = EditCommentForm(
        formdata=None,
        data={
            "name": comment.name,
            "job_title": comment.job_title or "",
            "organisation": comment.organisation or "",
            "text": comment.text,
            "revision": str(comment.revision),
        },
    )
    return _comment_page(comment, form)


@bp.post("/<int:number>")
def save(number: int):
    comment = _comment_or_404(number)
    form = EditCommentForm()
    if not form.validate_on_submit():
        return _comment_page(comment, form, 422)
    try:
        changed = services.edit_comment(comment, form.details(), int(form.revision.data), current_user.email)
    except services.EditConflict as conflict:
        db.session.rollback()
        flash(conflict.message, "error")
        form.revision.data = str(conflict.current.revision)  # saving again overwrites, on purpose
        return _comment_page(_comment_or_404(number), form, 409, conflict=True)
    except ShopError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _comment_page(comment, form, 422)
    if changed:
        db.session.commit()
        flash(f"Comment #{number} saved.", "success")
    else:
        flash("Nothing had changed, so nothing was saved.", "info")
    return redirect(url_for(".show", number=number), code=303)


def _publication_or_404(isbn: str):
    try:
        return get_by_isbn(isbns.normalise(isbn))
    except (InvalidISBN, NotFound) as error:
        abort(404, description=error.message)


@bp.get("/publications/<isbn>")
def publication(isbn: str):
    pub = _publication_or_404(isbn)
    result = queries.queue("all", _page(), current_app.config["STAFF_COMMENTS_PER_PAGE"], pub.id)
    return render_template(
        "staff/comments/publication.html",
        pub=pub,
        result=result,
        open_form=CommentsOpenForm(formdata=None, data={"open": "no" if pub.comments_open else "yes"}),
        moderate_form=ModerateForm(formdata=None),
        back=request.full_path.rstrip("?"),
        history=queries.publication_history(pub.id),
        **_labels(),
    )


@bp.post("/publications/<isbn>/open")
def set_open(isbn: str):
    pub = _publication_or_404(isbn)
    form = CommentsOpenForm()
    is_open = form.open.data == "yes"
    return run_action(
        form,
        lambda: services.set_comments_open(pub, is_open, current_user.email),
        f"Comments on “{pub.title}” are {'open' if is_open else 'closed'}"
        + ("." if is_open else ": readers see those already published, and no form."),
        redirect(url_for(".publication", isbn=pub.isbn), code=303),
    )


@bp.route("/erase", methods=["GET", "POST"])
def erase():
    if request.method == "GET":
        form = EraseForm(formdata=None, data={"email": request.args.get("email", "")[:320]})
        return render_template("staff/comments/erase.html", form=form)
    form = EraseForm()
    if not form.validate_on_submit():
        return render_template("staff/comments/erase.html", form=form), 422
    erasure = services.erase(form.email.data, form.remove_text.data, current_user.email, utcnow())
    db.session.commit()
    flash(erasure.describe(), "success" if erasure.numbers else "info")
    return redirect(url_for(".erase"), code=303)
