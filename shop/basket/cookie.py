"""Where the basket lives between requests: the signed, permanent session cookie.

Only ``{isbn13: quantity}`` and a region key are kept there; prices never are.
"""

from flask import current_app, session

from shop.basket.postage import Region, find_region
from shop.basket.services import Items, clean_items
from shop.errors import ShopError


def current_items() -> Items:
    return clean_items(session.get("basket"))


def save_items(items: Items) -> None:
    session["basket"] = items
    session.permanent = True  # outlives the browser, for PERMANENT_SESSION_LIFETIME


def current_region() -> Region:
    table = current_app.config["POSTAGE_REGIONS"]
    try:
        return find_region(table, session.get("region") or current_app.config["DEFAULT_REGION"])
    except ShopError:
        return find_region(table, current_app.config["DEFAULT_REGION"])


def save_region(key: str) -> None:
    session["region"] = key
    session.permanent = True


def empty_basket() -> None:
    session.pop("basket", None)
