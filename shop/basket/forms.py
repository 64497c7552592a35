"""Basket forms. Quantities are checked here for shape and by the service for range and stock."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

QUANTITY_MESSAGE = "Please enter the number of copies as a whole number, such as 1 or 10."


class _QuantityField(IntegerField):
    """Plain ASCII digits only (not '+3', '1e3' or other scripts' digits), with a message that
    says what to type. Absurdly long numbers parse as too large, for the range message."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip()
        if not (raw.isascii() and raw.isdigit()):
            self.data = None
            raise ValueError(QUANTITY_MESSAGE)
        self.data = int(raw) if len(raw) <= 9 else 10**9


class _IsbnForm(FlaskForm):
    isbn = HiddenField(validators=[InputRequired(), Length(max=32), Regexp(r"^[\dXx\s-]+$")])


class AddToBasketForm(_IsbnForm):
    """On every publication page, which a new visitor gets without a session: a per-session token
    would give each reader a cookie and make the page uncacheable. The app-wide cross-origin guard
    (shop.web.security) is this form's CSRF defence; the view is exempt from the token check."""

    class Meta:
        csrf = False

    quantity = _QuantityField("Quantity", default=1, validators=[InputRequired(QUANTITY_MESSAGE)])


class QuantityForm(_IsbnForm):
    quantity = _QuantityField("Quantity", validators=[InputRequired(QUANTITY_MESSAGE)])


class RemoveForm(_IsbnForm):
    pass


class RegionForm(FlaskForm):
    region = SelectField("Deliver to", validators=[InputRequired()])


class CheckoutForm(FlaskForm):
    """Pay: the delivery region comes with it (the select on the basket page), so the region a
    buyer sees selected is the one paid for even without pressing "Update postage"."""

    region = StringField(validators=[Optional(), Length(max=32)])


def first_error(form: FlaskForm) -> str:
    """The first validation message, for a flash; CSRF failures are handled before this."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return "Something in that form was not right; please try again."
