"""Terms, delivery and returns, privacy and contact: our own words filled in from config, unless
the publisher put its own ``<name>.md`` in ``PAGES_DIR`` (``instance/pages/``), which is shown
instead, rendered as Markdown without raw HTML (``shop.text.page_html``).

Public and cacheable: a reader without a session gets the page from ``shop.web.pagecache``,
keyed by the page's name and a digest of the publisher's file (config is fixed for the app's
life), so editing the file shows at once and no page carries a cookie."""

import hashlib
from pathlib import Path

from flask import Blueprint, current_app

from shop.basket.postage import regions
from shop.delivery import describe, estimate
from shop.text import page_html
from shop.web.pagecache import render_public_page

bp = Blueprint("pages", __name__)

# name -> (address, title of our own page)
PAGES = {
    "terms": ("/terms", "Terms of sale"),
    "delivery": ("/delivery-and-returns", "Delivery and returns"),
    "privacy": ("/privacy", "Privacy"),
    "contact": ("/contact", "Contact us"),
}


def publisher_text(name: str) -> str | None:
    """The publisher's own Markdown for page ``name``, if there is a file for it."""
    try:
        return (Path(current_app.config["PAGES_DIR"]) / f"{name}.md").read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _title_of(markdown: str, default: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or default
    return default


def _ours() -> dict:
    """What our own pages are filled in with."""
    config = current_app.config
    table = []
    for region in regions(config["POSTAGE_REGIONS"]):
        days = estimate(config["DELIVERY_ESTIMATES"], region.key)
        table.append({"label": region.label, "bands": region.band_rows(), "estimate": describe(days)})
    return {
        "postage": table,
        "max_copies": config["MAX_COPIES_PER_LINE"],
        "invoice_max_copies": config["INVOICE_MAX_COPIES_PER_LINE"],
        "invoice_minimum": config["INVOICE_MINIMUM"],
        "invoice_days": config["INVOICE_DAYS_UNTIL_DUE"],
        "basket_days": config["PERMANENT_SESSION_LIFETIME"] // 86400,
        "staff_idle_minutes": config["STAFF_IDLE_MINUTES"],
        "staff_session_hours": config["STAFF_SESSION_HOURS"],
        "notify_confirm_days": config["NOTIFY_CONFIRM_DAYS"],
        "comments_retention_days": config["COMMENTS_RETENTION_DAYS"],
        "carriers": list(config["CARRIERS"]),
        "pages": {name: url for name, (url, _title) in PAGES.items()},
    }


def _show(name: str):
    title = PAGES[name][1]
    markdown = publisher_text(name)
    if markdown is None:
        return render_public_page(f"pages/{name}.html", (name, None), lambda: {"title": title, **_ours()})
    digest = hashlib.sha256(markdown.encode()).hexdigest()
    return render_public_page(
        "pages/markdown.html",
        (name, digest),
        lambda: {
            "title": _title_of(markdown, title),
            "has_heading": any(line.startswith("# ") for line in markdown.splitlines()),
            "body": page_html(markdown),
        },
    )


@bp.get("/terms")
def terms():
    return _show("terms")


@bp.get("/delivery-and-returns")
def delivery():
    return _show("delivery")


@bp.get("/privacy")
def privacy():
    return _show("privacy")


@bp.get("/contact")
def contact():
    return _show("contact")
