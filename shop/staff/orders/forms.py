"""Order desk forms. Every one is a FlaskForm, so every POST carries a CSRF token."""

import secrets

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from shop.money import InvalidAmount, parse_pounds


class OrderFilterForm(FlaskForm):
    """GET form: no CSRF (it changes nothing) and lenient, so a bad value is ignored, not fatal."""

    class Meta:
        csrf = False

    status = SelectField("Status", validate_choice=True)
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    isbn = StringField("ISBN", validators=[Optional(), Length(max=32)])
    q = StringField("Reference, email, name or postcode", validators=[Optional(), Length(max=200)])


class DispatchForm(FlaskForm):
    carrier = StringField("Carrier (optional)", validators=[Optional(), Length(max=100)])
    tracking_number = StringField("Tracking number (optional)", validators=[Optional(), Length(max=100)])


class RefundForm(FlaskForm):
    amount = StringField("Amount to refund (£)", validators=[DataRequired("Enter an amount, such as 8.50.")])
    # One token per rendered form: a double submission reuses it, and so one idempotency key.
    request_token = HiddenField(default=lambda: secrets.token_hex(16), validators=[DataRequired(), Length(max=64)])

    def validate_amount(self, field) -> None:
        try:
            field.pence = parse_pounds(field.data)
        except InvalidAmount as error:
            raise ValidationError(str(error)) from None


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired("A note cannot be empty."), Length(max=2000)])


class ResendForm(FlaskForm):
    pass


class AllocateForm(FlaskForm):
    """Give copies in stock to the orders waiting for a title, oldest first."""


class NewDateForm(FlaskForm):
    """Send everyone waiting for a title the date copies are now expected."""
