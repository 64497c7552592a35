"""Rendered public pages for readers without a session, keyed by the data they show.

A reader with no session cookie has an empty basket, no messages and no account, so a catalogue
or publication page depends only on the rows it shows (and the app's settings). The view still
runs its queries; the key is built from the rows it got, so a cached page is never stale: a
change of price, stock or title is a different key. What is saved is the template work.
Anyone with a session (a basket, a message, staff) gets a fresh render.
"""

from collections.abc import Callable, Hashable
from operator import itemgetter

from flask import Flask, current_app, make_response, render_template, request, session
from sqlalchemy import inspect

from shop.web.lru import BoundedLRU

EXTENSION = "shop.page_cache"


def init_app(app: Flask) -> None:
    size = app.config["PUBLIC_PAGE_CACHE_SIZE"]
    app.extensions[EXTENSION] = BoundedLRU(size) if size > 0 else None


_columns: dict[type, tuple[tuple[str, ...], itemgetter]] = {}


def row_key(obj) -> tuple:
    """Every mapped column's value of ``obj``: equal keys render equal pages."""
    cls = type(obj)
    if cls not in _columns:
        names = tuple(attr.key for attr in inspect(cls).column_attrs)
        _columns[cls] = (names, itemgetter(*names))
    names, getter = _columns[cls]
    try:
        return getter(obj.__dict__)  # the loaded values, without the ORM's per-attribute descriptors
    except KeyError:  # an attribute not loaded (expired): load it
        return tuple(getattr(obj, name) for name in names)


def render_public_page(template: str, key: Hashable, context: Callable[[], dict]):
    """``render_template(template, **context())``, from the cache when the reader has no session.

    ``key`` must determine everything the template shows apart from the session (use row_key).
    ``context`` is called only when the page is rendered, so a cached page costs none of it.
    """
    pages: BoundedLRU[Hashable, str] | None = current_app.extensions.get(EXTENSION)
    if pages is None or current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        return render_template(template, **context())
    full_key = (template, key)
    html = pages.get(full_key)
    if html is None:
        html = render_template(template, **context())
        if session.modified:  # the page started a session (a token?): it is this reader's own
            return html
        pages.put(full_key, html)
    response = make_response(html)
    response.vary.add("Cookie")  # as Flask adds when a page reads the session
    return response
