"""The basket page and its forms. The basket itself lives in the signed session cookie."""

from functools import partial

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from shop import delivery
from shop import isbn as isbns
from shop.basket import services
from shop.basket.cookie import current_items, current_region, save_items, save_region
from shop.basket.forms import (
    AddToBasketForm,
    CheckoutForm,
    QuantityForm,
    RegionForm,
    RemoveForm,
    first_error,
)
from shop.basket.postage import regions
from shop.catalogue.queries import get_by_isbn
from shop.errors import ShopError
from shop.extensions import csrf
from shop.timeutil import local_today

bp = Blueprint("basket", __name__, url_prefix="/basket")


def back_to_basket():
    return redirect(url_for("basket.show"), code=303)


def most_copies() -> int:
    """The most copies of a title a basket takes (the larger of the card and invoice limits)."""
    config = current_app.config
    return services.line_maximum(config["MAX_COPIES_PER_LINE"], config["INVOICE_MAX_COPIES_PER_LINE"])


@bp.get("")
def show():
    region = current_region()
    items = current_items()
    basket = services.price_basket(items, region, local_today())
    if basket.dropped:
        save_items({isbn: qty for isbn, qty in items.items() if isbn not in basket.dropped})
        flash("A title in your basket is no longer in our catalogue, so we removed it.", "error")
    if basket.is_empty:
        # No forms, so no CSRF token: building one would start a session for a new reader.
        return render_template("basket/basket.html", basket=basket)
    config = current_app.config
    region_form = RegionForm(region=region.key)
    region_form.region.choices = [
        SelectChoice(r.key, r.label) for r in regions(config["POSTAGE_REGIONS"])
    ]
    return render_template(
        "basket/basket.html",
        basket=basket,
        region_form=region_form,
        quantity_form=QuantityForm(),
        remove_form=RemoveForm(),
        checkout_form=CheckoutForm(),
        max_copies=most_copies(),
        card_problems=basket.card_problems(config["MAX_COPIES_PER_LINE"]),
        invoice_problems=basket.invoice_problems(config["INVOICE_MINIMUM"], config["INVOICE_MAX_COPIES_PER_LINE"]),
        invoice_minimum=config["INVOICE_MINIMUM"],
        estimate=delivery.describe(delivery.estimate(config["DELIVERY_ESTIMATES"], region.key)),
        # Only a shop that takes cards alone can promise a card; Stripe may offer a bank debit.
        pay_label=(
            "Pay by card" if config["STRIPE_PAYMENT_METHODS"] == ("card",)
            else "Continue to payment"
        ),
    )


def _change_quantity(form, change) -> str | None:
    """Validate ``form`` and save ``change(items, publication, quantity, maximum, today)``.

    Returns the publication's title when the basket changed; flashes the refusal otherwise.
    """
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return None
    try:
        publication = get_by_isbn(isbns.normalise(form.isbn.data))
        items = change(current_items(), publication, form.quantity.data, most_copies(), today=local_today())
    except ShopError as error:
        flash(error.message, "error")
        return None
    save_items(items)
    card_maximum = current_app.config["MAX_COPIES_PER_LINE"]
    if items[publication.isbn] > card_maximum:
        flash(
            f"Paying by card takes up to {card_maximum} copies of a title, so this order can be "
            "paid by invoice (for organisations), or lower the quantity to pay by card.",
            "info",
        )
    return publication.title


@bp.post("/add")
@csrf.exempt  # guarded by shop.web.security's cross-origin check instead; see AddToBasketForm
def add():
    form = AddToBasketForm()
    contact = current_app.config.get("SELLER_EMAIL") or ""
    title = _change_quantity(form, partial(services.add_item, contact_email=contact))
    if title:
        copies = "copy" if form.quantity.data == 1 else "copies"
        flash(f"Added {form.quantity.data} {copies} of “{title}” to your basket.", "success")
    return back_to_basket()


@bp.post("/update")
def update():
    _change_quantity(QuantityForm(), services.set_quantity)
    return back_to_basket()


@bp.post("/remove")
def remove():
    form = RemoveForm()
    if form.validate_on_submit():
        try:
            save_items(services.remove_item(current_items(), isbns.normalise(form.isbn.data)))
        except ShopError as error:
            flash(error.message, "error")
    return back_to_basket()


@bp.post("/region")
def choose_region():
    form = RegionForm()
    form.region.choices = [SelectChoice(r.key, r.label) for r in regions(current_app.config["POSTAGE_REGIONS"])]
    if form.validate_on_submit():
        save_region(form.region.data)
        if request.args.get("then") == "invoice":  # "Pay by invoice": the region shown, then its form
            return redirect(url_for("checkout.invoice"), code=303)
    else:
        flash("Please choose a delivery region from the list.", "error")
    return back_to_basket()
