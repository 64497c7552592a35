"""Checkout, the pages Stripe sends customers back to, and Stripe's webhook."""

import contextlib
import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from shop import delivery
from shop.basket.cookie import current_items, current_region, save_region
from shop.basket.forms import CheckoutForm
from shop.basket.postage import find_region
from shop.basket.services import price_basket
from shop.basket.views import back_to_basket
from shop.checkout import services
from shop.checkout import session as pending_checkout
from shop.checkout.forms import InvoiceForm
from shop.errors import NotFound, PaymentGatewayError, ShopError
from shop.extensions import csrf, db, limiter
from shop.orders import invoicing
from shop.orders import services as orders
from shop.orders.holds import Holder, holder_key, network_of
from shop.orders.models import Order
from shop.orders.views import delivery_window, order_page_path
from shop.payments import gateway
from shop.payments.gateway import CheckoutUrls, InvalidWebhook
from shop.seller import seller_from_config

log = logging.getLogger(__name__)
bp = Blueprint("checkout", __name__)

SESSION_ID_MAX = 255


def settle_paid_checkout():
    """On the basket page, empty the basket of a buyer whose completed checkout the webhook
    recorded while they were away (they never came back to the success page): paid, or a bank
    payment processing. Only a browser with a pending checkout pays the query."""
    if request.method != "GET":
        return
    session_id = pending_checkout.pending()
    if session_id:
        order = orders.find_by_session(session_id)
        if order is None:
            pending_checkout.forget()
        elif order.checkout_complete:
            pending_checkout.paid()


# A hook of the basket's pages only (``None`` would make every page pay for it); registered from
# here because the basket knows nothing of orders.
bp.record_once(lambda state: state.app.before_request_funcs.setdefault("basket", []).append(settle_paid_checkout))


@bp.post("/checkout")
@limiter.limit(
    lambda: current_app.config["CHECKOUT_LIMIT_PER_ADDRESS"],
    error_message="Too many checkouts from this address. Please wait a few minutes and try again.",
)
def start():
    form = CheckoutForm()
    if not form.validate_on_submit():
        abort(400)
    region = current_region()
    if form.region.data:  # the region selected on the basket page, whether or not it was saved
        try:
            region = find_region(current_app.config["POSTAGE_REGIONS"], form.region.data)
        except ShopError as error:
            flash(error.message, "error")
            return back_to_basket()
        save_region(region.key)
    basket = price_basket(current_items(), region)
    config = current_app.config
    try:
        order = services.place_order(
            basket, config["ORDER_REFERENCE_PREFIX"], _holder(), config["CHECKOUT_HOLD_LIMIT"],
            card_maximum=config["MAX_COPIES_PER_LINE"],
        )
    except ShopError as error:
        db.session.rollback()  # nothing reserved, nothing recorded
        flash(error.message, "error")
        return back_to_basket()
    # Committed before Stripe is called, so a crash mid-call leaves a record, not a mystery.
    db.session.commit()
    base = current_app.config["SHOP_BASE_URL"]
    urls = CheckoutUrls(
        success=base + url_for(".success") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel=base + url_for(".cancelled", order=_cancel_token().dumps(order.id)),
    )
    try:
        started = services.open_payment(
            order, urls, basket, config["CHECKOUT_EXPIRY_MINUTES"], config["STRIPE_PAYMENT_METHODS"],
            config["STRIPE_ALLOW_PROMOTION_CODES"],
        )
    except PaymentGatewayError as error:
        db.session.commit()  # the order is recorded as failed to start
        flash(error.message, "error")
        return back_to_basket()
    db.session.commit()
    pending_checkout.remember(started.session_id)
    return redirect(started.url, code=303)


@bp.get("/checkout/success")
def success():
    """Stripe asked about the session only for the browser that started it (its pending
    checkout), so anyone else holding the link cannot make the shop call Stripe at will; they
    see what the database knows, which the webhook keeps up to date."""
    session_id = request.args.get("session_id", "")
    if not session_id or len(session_id) > SESSION_ID_MAX:
        abort(404, description="We have no order for that checkout.")
    try:
        if pending_checkout.is_pending(session_id):
            order = services.confirm_checkout(session_id)
        else:
            order = orders.get_by_session(session_id)
    except NotFound as error:
        abort(404, description=error.message)
    except PaymentGatewayError:
        # Stripe is unreachable: the webhook will still record the payment.
        order = orders.get_by_session(session_id)
    db.session.commit()
    if order.checkout_complete and pending_checkout.is_pending(session_id):
        pending_checkout.paid()
    days = delivery.estimate(current_app.config["DELIVERY_ESTIMATES"], order.region)
    response = make_response(render_template(
        "checkout/success.html",
        order=order,
        order_page=order_page_path(order),
        estimate=delivery.describe(days),
        expected=delivery_window(order, days),
    ))
    # It shows an address and the link to the order's page: for this browser only.
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _cancel_token() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="checkout-cancel")


def _cancelled_order_id() -> int | None:
    try:
        return int(_cancel_token().loads(request.args.get("order", "")))
    except (BadSignature, TypeError, ValueError):
        return None


@bp.get("/checkout/cancelled")
def cancelled():
    """Stripe's "back" link. It closes the checkout only when the signed order in the link is
    this browser's pending checkout, so another site cannot cancel a customer's checkout."""
    session_id = pending_checkout.pending()
    order = orders.find_by_session(session_id) if session_id else None
    if order is not None and order.id == _cancelled_order_id():
        pending_checkout.forget()
        try:
            order = services.cancel_checkout(session_id)
        except ShopError:
            order = None  # it will expire on its own at Stripe, and the webhook closes it
        db.session.commit()
        if order is not None and order.checkout_complete:
            pending_checkout.paid()
            return redirect(url_for(".success", session_id=session_id), code=303)
    flash("Payment cancelled. Your basket is just as you left it.", "info")
    return back_to_basket()


def _holder() -> Holder:
    """Who holds copies, for the per-client caps: the client's address (an IPv6 /64 as one, as
    one household or office is given a whole /64) and the browser's basket."""
    secret = current_app.config["SECRET_KEY"]
    return Holder(
        address=holder_key(secret, "address", network_of(request.remote_addr)),
        basket=holder_key(secret, "basket", pending_checkout.browser_id()),
    )


def _country_choices(form: InvoiceForm, basket) -> None:
    """The countries the shop bills and, for this basket's postage, delivers to; each list starts
    with an empty "choose" entry, which the form refuses with its own message."""
    regions = current_app.config["POSTAGE_REGIONS"]
    choose = SelectChoice("", "Choose the country")
    form.billing_country.choices = [choose, *(SelectChoice(code, name)
                                              for code, name in invoicing.billing_countries(regions))]
    form.delivery_country.choices = [choose, *(SelectChoice(code, name) for code, name in
                                               invoicing.delivery_countries(regions, basket.region.key))]


def _invoice_page(form: InvoiceForm, basket, message: str | None = None, status: int = 200):
    config = current_app.config
    _country_choices(form, basket)
    if form.delivery_country.data is None:
        # Never a country nobody chose: the UK where the region has it, the only one, or none.
        codes = [choice.value for choice in form.delivery_country.choices if choice.value]
        form.delivery_country.data = "GB" if "GB" in codes else codes[0] if len(codes) == 1 else ""
    if form.billing_country.data is None:
        form.billing_country.data = "GB"
    form.fill_token()
    problems = basket.problems + basket.invoice_problems(config["INVOICE_MINIMUM"], config["INVOICE_MAX_COPIES_PER_LINE"])
    response = make_response(render_template(
        "checkout/invoice.html", form=form, basket=basket, errors=form.errors_by_field(), message=message,
        problems=problems, manual=config["INVOICE_APPROVAL"] == "manual",
        days=config["INVOICE_DAYS_UNTIL_DUE"], minimum=config["INVOICE_MINIMUM"],
    ), status)
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _invoice_terms() -> invoicing.InvoiceTerms:
    return invoicing.InvoiceTerms.from_config(current_app.config, seller_from_config(current_app.config))


@bp.route("/checkout/invoice", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["CHECKOUT_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    error_message="Too many orders from this address. Please wait a few minutes and try again.",
)
def invoice():
    """Pay by invoice: the organisation, its purchase order number, who to write to, and where
    to bill and deliver. A problem sends the form back with everything typed and each message
    by its field; a placed order is committed before Stripe is asked for its invoice."""
    config = current_app.config
    basket = price_basket(current_items(), current_region())
    if basket.is_empty:
        flash("Your basket is empty: add the titles you need first.", "info")
        return back_to_basket()
    form = InvoiceForm()
    _country_choices(form, basket)
    if request.method == "GET":
        return _invoice_page(form, basket)
    if not form.validate_on_submit():
        return _invoice_page(form, basket, status=422)
    token = form.request_token.data
    try:
        order = services.place_invoice_order(
            basket, form.organisation_details(), _invoice_terms(),
            (config["INVOICE_MINIMUM"], config["INVOICE_MAX_COPIES_PER_LINE"]),
            config["ORDER_REFERENCE_PREFIX"], token, _holder(), config["INVOICE_HOLD_LIMIT"],
        )
        db.session.commit()  # the order stands before Stripe is asked for anything
    except invoicing.DuplicateSubmission as duplicate:
        db.session.rollback()
        return _invoice_placed(duplicate.order)
    except IntegrityError:
        db.session.rollback()  # the same form sent twice at once: the other submission placed it
        existing = invoicing.find_by_request_token(token)
        if existing is None:
            raise
        return _invoice_placed(existing)
    except ShopError as error:
        db.session.rollback()  # nothing reserved, nothing recorded
        return _invoice_page(form, basket, error.message, 422)
    if invoicing.to_finish(order):
        # A failure is recorded on the order: the desk, or reconcile, finishes it; the page says so.
        with contextlib.suppress(PaymentGatewayError):
            invoicing.issue(order, _invoice_terms(), actor="customer")
        db.session.commit()
    return _invoice_placed(order)


def _invoice_placed(order: Order):
    pending_checkout.remember_invoice_order(order.id)
    return redirect(url_for(".invoice_sent"), code=303)


@bp.get("/checkout/invoice/sent")
def invoice_sent():
    """The confirmation of this browser's last invoice order: its reference, and the invoice
    (number, payment page, PDF), or when it will come."""
    order_id = pending_checkout.invoice_order()
    order = db.session.get(Order, order_id) if order_id is not None else None
    if order is None or order.invoice is None:
        abort(404, description="We have no order by invoice from this browser.")
    response = make_response(render_template(
        "checkout/invoice_sent.html", order=order, invoice=order.invoice, order_page=order_page_path(order),
        days=current_app.config["INVOICE_DAYS_UNTIL_DUE"],
    ))
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/stripe/webhook")
@csrf.exempt
def webhook():
    try:
        event = gateway.verify_event(request.get_data(), request.headers.get("Stripe-Signature"))
    except InvalidWebhook as error:
        log.warning("%s", error.message)
        return jsonify(error=error.message), 400
    try:
        outcome = services.handle_event(event)
        db.session.commit()
    except Exception:
        # Answer 500 so Stripe delivers the event again; nothing of it was kept.
        db.session.rollback()
        log.exception("Stripe event %s (%s) failed", event.id, event.type)
        return jsonify(error="could not process event"), 500
    log.info("Stripe event %s (%s): %s", event.id, event.type, outcome)
    return jsonify(received=True, outcome=outcome)
