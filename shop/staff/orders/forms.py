"""Order desk forms. Every one is a FlaskForm, so every POST carries a CSRF token."""

import secrets

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from shop.money import InvalidAmount, parse_pounds
from shop.orders.invoicing import OUT_OF_BAND
from shop.orders.models import MAX_CARRIER, MAX_TRACKING
from shop.orders.refund_requests import MAX_NOTE, REASONS


class OrderFilterForm(FlaskForm):
    """GET form: no CSRF (it changes nothing) and lenient, so a bad value is ignored, not fatal."""

    class Meta:
        csrf = False

    status = SelectField("Status", validate_choice=True)
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    isbn = StringField("ISBN", validators=[Optional(), Length(max=32)])
    q = StringField("Reference, email, name, postcode, town or street", validators=[Optional(), Length(max=200)])

    dates_reversed = False

    def check_date_order(self) -> bool:
        """A "from" date after the "to" date matches nothing: say so (both are then ignored)."""
        start, end = self.date_from.data, self.date_to.data
        if start and end and not self.date_from.errors and not self.date_to.errors and start > end:
            self.dates_reversed = True
            self.date_to.errors = [
                f"The “to” date ({end:%-d %b %Y}) is before the “from” date ({start:%-d %b %Y}), "
                "so both dates are ignored."
            ]
            return False
        return True


class DispatchForm(FlaskForm):
    carrier = StringField("Carrier (optional)", validators=[Optional(), Length(max=MAX_CARRIER)])
    tracking_number = StringField("Tracking number (optional)", validators=[Optional(), Length(max=MAX_TRACKING)])


def _request_token() -> HiddenField:
    # One token per refund started: the confirmation carries it, so a double submission reuses
    # it, and so one idempotency key at Stripe.
    return HiddenField(default=lambda: secrets.token_hex(16), validators=[DataRequired(), Length(max=64)])


REASON_CHOICES = [SelectChoice("", "Choose a reason"), *(SelectChoice(k, v) for k, v in REASONS.items())]


class RefundForm(FlaskForm):
    """Step one of a refund (and, as hidden fields, the confirmation that repeats it)."""

    choice = RadioField(
        "How much",
        choices=[SelectChoice("full", "Full refund"), SelectChoice("part", "Part of it")],
        validators=[DataRequired("Choose a full refund or enter part of it.")],
    )
    amount = StringField("Amount to refund (£)", validators=[Optional(), Length(max=20)])
    reason = SelectField("Reason", choices=REASON_CHOICES, validators=[DataRequired("Choose the reason for the refund.")])
    note = TextAreaField("Note (for the timeline; the customer does not see it)",
                         validators=[Optional(), Length(max=MAX_NOTE)])
    restock = BooleanField("Put the copies back in stock")
    request_token = _request_token()
    confirmed_pence = HiddenField()  # the amount the confirmation showed (set there)

    def validate_amount(self, field) -> None:
        field.pence = None
        if self.choice.data != "part":
            return
        if not (field.data or "").strip():
            raise ValidationError("Enter the amount to refund, such as 8.50.")
        try:
            field.pence = parse_pounds(field.data)
        except InvalidAmount as error:
            raise ValidationError(str(error)) from None


class CancelForm(FlaskForm):
    confirmed_pence = HiddenField()  # the amount the page showed
    reason = SelectField("Reason", choices=REASON_CHOICES, validators=[DataRequired("Choose the reason for cancelling.")])
    note = TextAreaField("Note (for the timeline; the customer does not see it)",
                         validators=[Optional(), Length(max=MAX_NOTE)])
    request_token = _request_token()


class BatchForm(FlaskForm):
    """The orders list's action bar. Which orders: the ticked ``ref`` boxes, or every order
    matching the filter (carried as the filter's own fields, with ``shown_at`` the moment the
    list was shown, so no order placed since joins the batch unseen)."""

    scope = RadioField("Act on", choices=[SelectChoice("ticked", "The ticked orders"), SelectChoice("all", "All orders matching the filter")],
                       default="ticked")
    shown_at = HiddenField()


class BatchDispatchForm(FlaskForm):
    carrier = StringField("Carrier for all of them", validators=[Optional(), Length(max=MAX_CARRIER)])


class TrackingImportForm(FlaskForm):
    file = FileField("Click & Drop export (CSV)", validators=[FileRequired("Choose the CSV file Click & Drop exported.")])


class TrackingCorrectionForm(FlaskForm):
    carrier = StringField("Carrier", validators=[Optional(), Length(max=MAX_CARRIER)])
    tracking_number = StringField("Tracking number", validators=[Optional(), Length(max=MAX_TRACKING)])
    notify = BooleanField("Email the customer the corrected details")


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired("A note cannot be empty."), Length(max=2000)])


class AcknowledgeMismatchForm(FlaskForm):
    note = TextAreaField(
        "What you checked",
        validators=[DataRequired("Say what you checked before acknowledging."), Length(max=2000)],
    )


class ResendForm(FlaskForm):
    pass


class AllocateForm(FlaskForm):
    """Give copies in stock to the orders waiting for a title, oldest first."""


class NewDateForm(FlaskForm):
    """Send everyone waiting for a title the date copies are now expected."""


# --- orders paid by invoice (orders.invoicing) ------------------------------------------------

class ApproveInvoiceForm(FlaskForm):
    """Approve an invoice order and have Stripe send its invoice (or try again)."""


class DeclineInvoiceForm(FlaskForm):
    reason = TextAreaField("Why (the organisation is told)", validators=[
        DataRequired("Say why you are declining the order: the organisation is told."),
        Length(max=300, message="A reason can have at most 300 characters."),
    ])


class ResendInvoiceForm(FlaskForm):
    request_token = _request_token()


class VoidInvoiceForm(FlaskForm):
    reason = TextAreaField("Why (the organisation is told)", validators=[
        DataRequired("Say why you are voiding the invoice: the organisation is told."),
        Length(max=300, message="A reason can have at most 300 characters."),
    ])
    request_token = _request_token()


OUT_OF_BAND_CHOICES = [SelectChoice("", "Choose how it was paid"),
                       *(SelectChoice(k, v) for k, v in OUT_OF_BAND.items())]


class MarkPaidForm(FlaskForm):
    how = SelectField("Paid by", choices=OUT_OF_BAND_CHOICES,
                      validators=[DataRequired("Choose how the invoice was paid.")])
    note = StringField("Note (a cheque number, a bank reference)", validators=[
        Optional(), Length(max=300, message="A note can have at most 300 characters."),
    ])
    request_token = _request_token()
