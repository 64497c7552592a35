"""Rendered rows of a staff list (the order list), kept per tuple of the values each shows.

A row template reads nothing but its arguments and what is fixed for the app's life (its filters
and config, never the request or the session), so equal arguments give equal HTML, and the HTML
kept for a key is never stale: an order whose status, flags or refund changed is a different key.
Autoescaping applies as in any template; what is kept is its output. Keys are plain values
(named tuples, dates, strings), never ORM objects, whose equality is identity and whose columns
can change under them.

Rendering the fifty rows of the order list was half the page's template time (about 950 escapes);
a kept row costs a hash and a lookup. The rows not kept are rendered together, in one call of
the template, so a page of new orders costs about what it did before.
"""

from collections.abc import Hashable, Sequence

from flask import Flask, current_app
from markupsafe import Markup

from shop.web.lru import BoundedLRU

EXTENSION = "shop.fragments"
# Ends each row in the template's output. Autoescaped text cannot contain "<", so no value shown
# in a row can forge it.
ROW_END = "<!--row-end-->"


def init_app(app: Flask) -> None:
    size = app.config["FRAGMENT_CACHE_SIZE"]
    app.extensions[EXTENSION] = BoundedLRU(size) if size > 0 else None
    app.add_template_global(kept_rows)


def kept_rows(template: str, items: Sequence[Hashable], **shared: Hashable) -> Markup:
    """In a template: one row per item, ``template`` rendered with ``items`` (those not kept) and
    ``shared`` (the same for every row); the template writes ``ROW_END`` after each row. Nothing
    is kept while templates reload on change (debug), so an edited row template shows at once."""
    kept: BoundedLRU[Hashable, Markup] | None = current_app.extensions[EXTENSION]
    if current_app.jinja_env.auto_reload:
        kept = None
    common = (template, *shared.items())
    found = [kept.get((common, item)) if kept is not None else None for item in items]
    missing = [item for item, html in zip(items, found, strict=True) if html is None]
    parts: list[str] = []
    if missing:
        output = current_app.jinja_env.get_template(template).render(items=missing, row_end=Markup(ROW_END), **shared)
        parts = output.split(ROW_END)
        if len(parts) != len(missing) + 1 or parts[-1].strip():
            # A row written twice, or not ended, would shift every row after it onto another
            # item's key (another order's tick box): refuse rather than keep that.
            raise RuntimeError(f"{template} wrote {len(parts) - 1} row ends for {len(missing)} rows")
    rendered = iter(parts)
    rows = []
    for item, html in zip(items, found, strict=True):
        if html is None:
            html = Markup(next(rendered))
            if kept is not None:
                kept.put((common, item), html)
        rows.append(html)
    # Joined as text: each is Markup already (Markup.join would pass each through escape(),
    # which copies a Markup string: 50 copies a page for nothing).
    return Markup("".join(rows))
