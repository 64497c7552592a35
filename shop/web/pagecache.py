"""Rendered public pages for readers without a session, keyed by the data they show.

A reader with no session cookie has an empty basket, no messages and no account, so a catalogue
or publication page depends only on the rows it shows (and the app's settings). The view still
runs its queries; the key is built from the rows it got, so a cached page is never stale: a
change of price, stock or title is a different key. What is saved is the template work, and
encoding the page as UTF-8; a view may also read its rows as plain tuples and make ORM objects
only for a render (the publication page: shop.catalogue.queries.row_by_isbn).
Anyone with a session (a basket, a message, staff) gets a fresh render.

A page may also carry holes (``page_hole(name)`` in the template) for a value that must be new
in every response, such as the moment a form was sent (shop.comments.stamp). The cache keeps the
page with its holes open, and every response, cached or not, has them filled by the function
registered for them (``register_hole``): a hole's value is never shared between readers.
"""

import re
from collections.abc import Callable, Hashable

from flask import Flask, current_app, make_response, render_template, request, session
from markupsafe import Markup, escape

from shop.web.lru import BoundedLRU

EXTENSION = "shop.page_cache"
HOLES = "shop.page_holes"
# Written by the template (never by autoescaped text, which cannot contain "<"), split on here.
_HOLE = re.compile(r"<page-hole ([a-z0-9-]+)>")


def init_app(app: Flask) -> None:
    size = app.config["PUBLIC_PAGE_CACHE_SIZE"]
    app.extensions[EXTENSION] = BoundedLRU(size) if size > 0 else None
    app.extensions[HOLES] = {}
    app.add_template_global(page_hole)


def register_hole(app: Flask, name: str, fill: Callable[[], str]) -> None:
    """Fill the holes called ``name`` with ``fill()`` in every response of a public page."""
    if not _HOLE.fullmatch(f"<page-hole {name}>"):
        raise ValueError(f"a hole's name is lower-case letters, digits and hyphens, not {name!r}")
    app.extensions[HOLES][name] = fill


def page_hole(name: str) -> Markup:
    """In a template: a place for a value that every response fills afresh (see register_hole)."""
    return Markup(f"<page-hole {name}>")


def _filled(html: str) -> str:
    """A page rendered for one reader, its holes filled."""
    if "<page-hole " not in html:
        return html
    fills = current_app.extensions[HOLES]
    return _HOLE.sub(lambda match: escape(fills[match.group(1)]()), html)


def _kept(html: str) -> tuple:
    """The page as the cache keeps it: UTF-8 bytes, split around its holes (their names between),
    so that serving it is a join, not a fresh encoding of the whole page (0.2 ms for a 50 KB
    page with one non-ASCII character, such as a publication with fifty comments)."""
    parts = _HOLE.split(html)
    return tuple(part if index % 2 else part.encode() for index, part in enumerate(parts))


def _served(parts: tuple) -> bytes:
    if len(parts) == 1:
        return parts[0]
    fills = current_app.extensions[HOLES]
    return b"".join(
        str(escape(fills[part]())).encode() if index % 2 else part
        for index, part in enumerate(parts)
    )


def render_public_page(template: str, key: Hashable, context: Callable[[], dict]):
    """``render_template(template, **context())``, from the cache when the reader has no session.

    ``key`` must determine everything the template shows apart from the session and its holes
    (every column of the rows shown). ``context`` is called only when the page is rendered, so a
    cached page costs none of it. Holes are filled in every response.
    """
    pages: BoundedLRU[Hashable, tuple] | None = current_app.extensions.get(EXTENSION)
    if pages is None or current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        return _filled(render_template(template, **context()))
    full_key = (template, key)
    parts = pages.get(full_key)
    if parts is None:
        html = render_template(template, **context())
        if session.modified:  # the page started a session (a token?): it is this reader's own
            return _filled(html)
        parts = _kept(html)
        pages.put(full_key, parts)
    response = make_response(_served(parts))
    response.vary.add("Cookie")  # as Flask adds when a page reads the session
    return response
