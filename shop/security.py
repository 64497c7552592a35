"""Request guards that apply to every route, so no single view can forget them."""

from flask import Flask, abort, request

NUL = "\x00"


def register_input_guards(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():
        # No form or link of ours sends a NUL; PostgreSQL cannot store one in a text column, and
        # it would otherwise surface as a database error deep inside a view.
        values = list(request.args.values())
        if request.method == "POST" and request.mimetype != "application/json":
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

    @app.after_request
    def add_security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
