"""The absolute links notify-me emails carry: signed tokens, on the shop's public address.

A confirmation link carries the request's id, signed and good for ``NOTIFY_CONFIRM_DAYS``; an
unsubscribe link carries the email address, signed and good for ever (a one-click unsubscribe
must work from an old email). Neither needs a session or a cookie."""

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from shop.notify.models import NotifyRequest

CONFIRM_SALT = "notify-confirm"
UNSUBSCRIBE_SALT = "notify-unsubscribe"


def _confirm_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def _unsubscribe_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


class ShopLinks:
    """``services.Links`` on the shop's public address. Needs a request context (a command
    pushes ``app.test_request_context()``)."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def page(self, isbn: str) -> str:
        return self.base_url + url_for("catalogue.publication", isbn_text=isbn)

    def confirm(self, request: NotifyRequest) -> str:
        return self.base_url + url_for("notify.confirm", token=_confirm_signer().dumps(request.id))

    def unsubscribe(self, email: str) -> str:
        return self.base_url + url_for("notify.unsubscribe", token=_unsubscribe_signer().dumps(email))


def shop_links() -> ShopLinks:
    return ShopLinks(current_app.config["SHOP_BASE_URL"])


def request_id_from(token: str) -> int | None:
    """The request a confirmation token names, or None when it is forged or too old."""
    try:
        value = _confirm_signer().loads(token, max_age=current_app.config["NOTIFY_CONFIRM_DAYS"] * 86400)
    except (BadSignature, SignatureExpired):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def email_from(token: str) -> str | None:
    """The address an unsubscribe token names, or None when it is forged."""
    try:
        value = _unsubscribe_signer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None
