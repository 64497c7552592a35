"""Public catalogue: the list with its search box, and one page per publication."""

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from shop import isbn as isbns
from shop.catalogue import covers, queries, search, seo
from shop.catalogue.availability import offer
from shop.catalogue.rules import price_bands
from shop.errors import InvalidISBN, NotFound
from shop.text import plain_summary
from shop.timeutil import local_today
from shop.web.pagecache import render_public_page
from shop.web.readonly import read_only

bp = Blueprint("catalogue", __name__)

MAX_PAGE = 100_000  # beyond any real catalogue; keeps OFFSET inside a 64-bit integer


@bp.get("/")
@read_only
def index():
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    found = search.search_catalogue(
        request.args.get("q", ""), page, current_app.config["CATALOGUE_PAGE_SIZE"]
    )
    results = found.page
    today = local_today()  # what each card offers can change with the day (a publication day)
    if results.page > max(results.pages, 1):
        # Past the last page (an old link, a typed number): say so, link to the last, and answer
        # 404 so that no search engine keeps the address. Rare, so never cached.
        return render_template(
            "catalogue/index.html", search=found, beyond_last=True, offer=offer, today=today
        ), 404
    shown = (found.query, found.message, results.page, results.per_page, results.total,
             tuple(map(tuple, results.items)), today)
    return render_public_page(
        "catalogue/index.html", shown, lambda: {"search": found, "offer": offer, "today": today}
    )


@bp.get("/publications/<path:isbn_text>")
@read_only
def publication(isbn_text: str):
    try:
        isbn13 = isbns.normalise(isbn_text)
    except InvalidISBN as error:
        abort(404, description=f"{error.message} Check the number, or search the catalogue.")
    if isbn_text != isbn13:
        return redirect(url_for(".publication", isbn_text=isbn13), code=301)
    try:
        row = queries.row_by_isbn(isbn13)
    except NotFound as error:
        abort(404, description=error.message)
    offered = offer(row, local_today())

    def context() -> dict:  # only for a render: a cached page needs none of this
        pub = queries.as_publication(row)
        page_url = seo.public_url(
            url_for(".publication", isbn_text=pub.isbn), current_app.config["SHOP_BASE_URL"]
        )
        base = current_app.config["SHOP_BASE_URL"]
        share = covers.share_image(pub)
        image_url = seo.public_url(share[0], base) if share else None
        share_image = {"url": image_url, "width": share[1], "height": share[2]} if share else None
        return {
            "pub": pub,
            "offer": offered,
            "page_url": page_url,
            "description": plain_summary(pub.summary),
            "share_image": share_image,
            "structured_data": seo.book_structured_data(pub, page_url, offered, image_url=image_url),
            # A basket takes the larger of the card and invoice limits (basket.services).
            "max_copies": max(current_app.config["MAX_COPIES_PER_LINE"],
                              current_app.config["INVOICE_MAX_COPIES_PER_LINE"]),
            "price_bands": price_bands(pub.price_pence, pub.price_breaks),
        }

    # Every column is in the key (comments_version counts approved comments); so is the offer,
    # whose words can change with the day, the row staying the same.
    return render_public_page("catalogue/publication.html", (tuple(row), offered), context)


@bp.get("/sitemap.xml")
def sitemap():
    base = current_app.config["SHOP_BASE_URL"]
    body = render_template(
        "catalogue/sitemap.xml",
        home=seo.public_url(url_for(".index"), base),
        entries=[
            (seo.public_url(url_for(".publication", isbn_text=isbn), base), changed)
            for isbn, changed in seo.sitemap_entries(local_today())
        ],
    )
    response = make_response(body)
    response.mimetype = "application/xml"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/robots.txt")
def robots():
    base = current_app.config["SHOP_BASE_URL"]
    lines = [
        "User-agent: *",
        "Disallow: /staff",
        "Disallow: /basket",
        "Disallow: /checkout",
        "Disallow: /notify",
        f"Sitemap: {seo.public_url(url_for('.sitemap'), base)}",
    ]
    response = make_response("\n".join(lines) + "\n")
    response.mimetype = "text/plain"
    return response
