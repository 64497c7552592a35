"""The staff catalogue: list, create, edit, withdraw and return to sale, adjust stock, covers.

Nested under the staff blueprint (``staff.catalogue.*``, ``/staff/catalogue``), so the staff
sign-in guard and ``no-store`` header apply to every page here. Thin views: validate, call one
service, commit once, redirect."""

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from shop import isbn as isbns
from shop.catalogue import admin, codes, covers, rules
from shop.catalogue.availability import long_date, may_ship
from shop.catalogue.queries import get_by_isbn
from shop.catalogue.rules import PublicationDetails
from shop.errors import InvalidISBN, NotFound, ShopError
from shop.extensions import db
from shop.money import format_pence
from shop.notify import services as notify
from shop.notify.links import shop_links
from shop.orders import waiting
from shop.staff.actions import run_action
from shop.staff.catalogue.forms import (
    FIELD_OF_DETAIL,
    CatalogueSearchForm,
    CoverForm,
    NewPublicationForm,
    PublicationForm,
    RemoveCoverForm,
    SaleForm,
    StockForm,
)
from shop.timeutil import local_today, utcnow

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")

MAX_PAGE = 100_000  # keeps OFFSET inside a 64-bit integer


@bp.get("")
def index():
    form = CatalogueSearchForm(request.args)
    form.validate()
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    result = admin.list_publications(
        form.q.data if not form.q.errors else "",
        form.sort.data if not form.sort.errors else "title",
        page,
        current_app.config["STAFF_CATALOGUE_PER_PAGE"],
    )
    return render_template(
        "staff/catalogue/index.html",
        form=form,
        result=result,
        low_stock=current_app.config["LOW_STOCK_THRESHOLD"],
    )


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = NewPublicationForm()
    if form.validate_on_submit():
        try:
            publication = admin.create_publication(
                form.isbn.isbn13, form.details(), form.stock.data, current_user.email
            )
        except ShopError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"“{publication.title}” is in the catalogue and on sale.", "success")
            return redirect(url_for(".edit", isbn=publication.isbn), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("staff/catalogue/new.html", form=form), status


def _publication_or_404(isbn: str):
    try:
        return get_by_isbn(isbns.normalise(isbn))
    except (InvalidISBN, NotFound) as error:
        abort(404, description=error.message)


def _edit_page(publication, form: PublicationForm, status: int = 200, errors_heading=None):
    return render_template(
        "staff/catalogue/edit.html",
        pub=publication,
        form=form,
        errors_heading=errors_heading,
        stock_form=StockForm(formdata=None),
        sale_form=SaleForm(formdata=None),
        cover_form=CoverForm(formdata=None),
        remove_cover_form=RemoveCoverForm(formdata=None),
        has_cover=covers.cover_file(publication, current_app.config["COVERS_DIR"]) is not None,
        changes=admin.history(publication),
        cover_max_size=covers.describe_size(current_app.config["COVER_MAX_BYTES"]),
        action_labels=admin.ACTION_LABELS,
        field_labels=admin.FIELD_LABELS,
        stock_reasons=rules.STOCK_REASONS,
        waiting_orders=waiting.waiting_count(publication),
        notify_count=notify.count_for(publication, utcnow()),
    ), status


@bp.get("/<isbn>")
def edit(isbn: str):
    publication = _publication_or_404(isbn)
    return _edit_page(publication, PublicationForm.for_publication(publication))


def _back_to(publication):
    return redirect(url_for(".edit", isbn=publication.isbn), code=303)


def _run(publication, form, action: Callable[[], str | None], done: str):
    return run_action(form, action, done, _back_to(publication))


def _shown(name: str, value) -> str:
    if name == "price_pence":
        return format_pence(value)
    if name in ("publication_date", "expected_ship_date"):
        return long_date(value)
    if name == "publishing_status":
        return codes.with_code(codes.publishing_status_words(value), value)
    if name == "availability":
        return codes.with_code(codes.availability_words(value), value)
    if name == "contributors":
        return "; ".join(c.in_words() for c in value)
    if name == "subjects":
        return "; ".join(value)
    return str(value)


def _changed_meanwhile(name: str, current: PublicationDetails) -> str:
    value = getattr(current, name)
    if name == "summary":
        change = "changed the summary (the history below shows it)"
    elif not value:
        change = "cleared this"
    else:
        change = f"changed this to “{_shown(name, value)}”"
    return f"Someone else {change} while you were editing. Save again to replace it with yours."


def _follow_up(publication) -> list[str]:
    """After a change that may bring copies in or make a title orderable (goods in, a new status,
    back on sale), in the same transaction: copies go first to the orders waiting for them,
    oldest first, so readers told afterwards cannot take them; then readers who asked are told,
    if the title can now be ordered. Returns what happened, for the flash."""
    today, said = local_today(), []
    orders, _copies = waiting.waiting_count(publication)
    if orders and publication.stock > 0 and may_ship(publication, today):
        said.append(waiting.allocate(publication, today, current_user.email).describe(publication.title))
    told = notify.announce(publication, today, utcnow(), shop_links())
    if told:
        said.append(f"Emailed {told} {'reader' if told == 1 else 'readers'} who asked to hear when it could be ordered.")
    return said


@bp.post("/<isbn>")
def save(isbn: str):
    publication = _publication_or_404(isbn)
    form = PublicationForm()
    if not form.validate_on_submit():
        return _edit_page(publication, form, 422)  # the form again, with each field's message
    try:
        changed = admin.update_publication(
            publication, form.details(), current_user.email, form.started_from.data
        )
    except admin.EditConflict as conflict:
        db.session.rollback()
        # Saving this form again writes the editor's fields over theirs, on purpose, and no other.
        form.start_again_from(conflict.current, conflict.edited)
        for name in conflict.clashes:
            message = _changed_meanwhile(name, conflict.current)
            form[FIELD_OF_DETAIL.get(name, name)].errors.append(message)
        flash(conflict.message, "error")
        return _edit_page(publication, form, 409, "Changed by someone else while you were editing:")
    except ShopError as error:  # it kept changing under us
        db.session.rollback()
        flash(error.message, "error")
        return _edit_page(publication, form, 409)
    if changed:
        followed = _follow_up(publication)
        db.session.commit()
        flash(" ".join([f"Changes to “{publication.title}” saved.", *followed]), "success")
    else:
        flash("Nothing had changed, so nothing was saved.", "info")
    return _back_to(publication)


@bp.post("/<isbn>/withdraw")
def withdraw(isbn: str):
    publication = _publication_or_404(isbn)
    form = SaleForm()
    return _run(
        publication,
        form,
        lambda: admin.withdraw(publication, current_user.email, form.reason.data),
        f"“{publication.title}” is withdrawn from sale: it is no longer listed or sold.",
    )


@bp.post("/<isbn>/return")
def return_to_sale(isbn: str):
    publication = _publication_or_404(isbn)
    form = SaleForm()
    def action() -> str:
        admin.return_to_sale(publication, current_user.email, form.reason.data)
        return " ".join([f"“{publication.title}” is back on sale.", *_follow_up(publication)])

    return _run(publication, form, action, "Back on sale.")


@bp.post("/<isbn>/stock")
def adjust_stock(isbn: str):
    publication = _publication_or_404(isbn)
    form = StockForm()

    def action() -> str:
        before, after = admin.adjust_stock(
            publication, form.reason.data, form.quantity.data, current_user.email
        )
        label = rules.STOCK_REASONS[form.reason.data]
        said = f"{label}: stock of “{publication.title}” went from {before} to {after}."
        return " ".join([said, *_follow_up(publication)]) if after > before else said

    return _run(publication, form, action, "Stock changed.")


@bp.post("/<isbn>/cover")
def upload_cover(isbn: str):
    publication = _publication_or_404(isbn)
    form = CoverForm()
    config = current_app.config

    def action():
        data = covers.read_upload(form.cover.data.stream, config["COVER_MAX_BYTES"])
        covers.store_cover(publication, data, config["COVERS_DIR"], current_user.email)

    return _run(publication, form, action, f"New cover for “{publication.title}” saved.")


@bp.post("/<isbn>/cover/remove")
def remove_cover(isbn: str):
    publication = _publication_or_404(isbn)
    return _run(
        publication,
        RemoveCoverForm(),
        lambda: covers.remove_cover(publication, current_user.email),
        f"“{publication.title}” now shows the plain placeholder cover.",
    )
