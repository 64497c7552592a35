"""The link to a buyer's own order page: ``/orders/<token>``, where the token is the order's id
signed with the app's secret key and a salt of its own.

Nobody can make a token for an order without the key (so a reference or an email address is
no way in), and an altered token fails the signature. The link stays the same for the life of
the order, so the one in the confirmation email keeps working; changing ``SECRET_KEY`` retires
every link at once."""

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "order-page"


def _signer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def order_token(order_id: int, secret_key: str) -> str:
    return _signer(secret_key).dumps(order_id)


def order_id_from(token: str, secret_key: str) -> int | None:
    """The order id a token was made for, or None when it is not one of ours."""
    if not token or len(token) > 200:
        return None
    try:
        value: Any = _signer(secret_key).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def order_page_url(order_id: int, config: Any) -> str:
    """The absolute address of the order's page, for emails (no request needed)."""
    return f"{config['SHOP_BASE_URL']}/orders/{order_token(order_id, config['SECRET_KEY'])}"
