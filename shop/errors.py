"""Errors that carry a message fit to show a customer or a member of staff."""


class ShopError(Exception):
    """Base of every expected failure; ``str(error)`` is the human message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidISBN(ShopError):
    pass


class NotFound(ShopError):
    pass


class BasketError(ShopError):
    """A basket change that was refused; the basket is unchanged."""


class CheckoutError(ShopError):
    """Checkout could not start; the basket is unchanged."""


class PaymentGatewayError(ShopError):
    """Stripe could not be reached or refused the request."""


class UnknownCheckout(NotFound):
    """A Stripe Checkout Session that belongs to none of our orders."""


def register_error_handlers(app) -> None:
    """4xx and 5xx pages in the shop's own layout; an unexpected error rolls the session back."""
    from flask import jsonify, render_template, request
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from shop.extensions import db

    def render(status: int, title: str, message: str):
        if request.path.startswith("/stripe/") or request.accept_mimetypes.best == "application/json":
            return jsonify(error=message), status
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render(
            400,
            "Please try again",
            "That form had expired or was sent from another site, so nothing was changed. "
            "Go back, reload the page and send it again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code and error.code >= 500:
            db.session.rollback()
        return render(error.code or 500, error.name, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render(
            500,
            "Something went wrong",
            "Sorry, something went wrong on our side and nothing was changed. Please try again.",
        )

