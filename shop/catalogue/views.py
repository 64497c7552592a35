"""Public catalogue: the list with its search box, and one page per publication."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from shop import isbn as isbns
from shop.basket.forms import AddToBasketForm
from shop.catalogue import services
from shop.errors import InvalidISBN, NotFound

bp = Blueprint("catalogue", __name__)

MAX_PAGE = 100_000  # beyond any real catalogue; keeps OFFSET inside a 64-bit integer


@bp.get("/")
def index():
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    search = services.search_catalogue(
        request.args.get("q", ""), page, current_app.config["CATALOGUE_PAGE_SIZE"]
    )
    return render_template("catalogue/index.html", search=search)


@bp.get("/publications/<path:isbn_text>")
def publication(isbn_text: str):
    try:
        isbn13 = isbns.normalise(isbn_text)
    except InvalidISBN as error:
        abort(404, description=f"{error.message} Check the number, or search the catalogue.")
    if isbn_text != isbn13:
        return redirect(url_for(".publication", isbn_text=isbn13), code=301)
    try:
        pub = services.get_by_isbn(isbn13)
    except NotFound as error:
        abort(404, description=error.message)
    form = AddToBasketForm(isbn=pub.isbn, quantity=1)
    return render_template(
        "catalogue/publication.html",
        pub=pub,
        form=form,
        max_copies=current_app.config["MAX_COPIES_PER_LINE"],
    )
