"""Request guards that apply to every route, so no single view can forget them."""

from urllib.parse import urlsplit

from flask import Flask, abort, request

NUL = "\x00"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CROSS_ORIGIN_MESSAGE = (
    "That form was sent from another website, so nothing was changed. "
    "Please use the form on our own pages."
)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_cross_origin_request(shop_origins: frozenset[str]) -> bool:
    """True when a browser says this request comes from another site.

    Fetch Metadata first (``Sec-Fetch-Site``, sent by every current browser), then ``Origin``;
    a request with neither is not from a browser's cross-site form, so it passes. This is the
    same rule as Go's ``http.CrossOriginProtection``; it needs no session, so it is what guards
    the add-to-basket form on public pages, which carry no per-visitor token.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin.lower() not in shop_origins | {origin_of(request.host_url)}


def register_input_guards(app: Flask, csrf_protect=None) -> None:
    """One ``before_request`` guard for every request: cross-origin writes refused, then the
    CSRF token checked (``csrf_protect``, Flask-WTF's own check, on the methods it checks), then
    NUL characters refused. One hook, not three: every hook costs every page."""
    base_url = app.config.get("SHOP_BASE_URL")
    shop_origins = frozenset({origin_of(base_url)} if base_url else ())
    csrf_methods = frozenset(app.config["WTF_CSRF_METHODS"])

    @app.before_request
    def guard_request():
        method = request.method
        # Checked before any token: every form, with or without a CSRF token, is refused when a
        # browser says another site sent it. Stripe's webhook is server to server (no headers).
        if method in UNSAFE_METHODS and is_cross_origin_request(shop_origins):
            abort(403, description=CROSS_ORIGIN_MESSAGE)
        if csrf_protect is not None and method in csrf_methods:
            csrf_protect()
        # No form or link of ours sends a NUL; PostgreSQL cannot store one in a text column, and
        # it would otherwise surface as a database error deep inside a view.
        values = list(request.args.values()) if request.query_string else []
        if method == "POST" and request.mimetype != "application/json":
            values += request.form.values()
        if any(NUL in value for value in values) or NUL in request.path:
            abort(400, description="Part of that request contains a character we cannot accept.")


def content_security_policy(stripe_api_base: str | None) -> str:
    """Our pages load only our own files: no inline scripts, no framing. Forms may also be
    submitted toward Stripe Checkout, because browsers apply form-action to the redirect that
    follows POST /checkout."""
    from urllib.parse import urlsplit

    checkout_hosts = ["https://checkout.stripe.com"]
    if stripe_api_base:
        parts = urlsplit(stripe_api_base)
        checkout_hosts.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self' " + " ".join(checkout_hosts),
        ]
    )


def register_security_headers(app: Flask) -> None:
    headers = {
        "Content-Security-Policy": content_security_policy(app.config.get("STRIPE_API_BASE")),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if app.config.get("SHOP_ENV") == "production":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    lowered = [(name.lower(), name, value) for name, value in headers.items()]

    @app.after_request
    def add_security_headers(response):
        # A view may set its own; Headers.setdefault would raise and catch a KeyError per name.
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 (Headers iterate as pairs)
        for lower, name, value in lowered:
            if lower not in present:
                response.headers.add(name, value)
        return response
