"""The invoice checkout form: an organisation's details, its purchase order number and two
addresses. A FlaskForm (the buyer has a basket, so a session, and the form carries a CSRF
token). Each field says in its message what to type; the limits are orders.invoicing's."""

import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from shop.emails.outbox import usable_address
from shop.orders import invoicing
from shop.payments.gateway import PostalAddress


def _strip(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def _exact(value):
    """The PO number keeps its inner spacing: only the ends are trimmed."""
    return value.strip() if isinstance(value, str) else value


def _required(message: str):
    def check(form, field) -> None:
        if not field.data:
            raise ValidationError(message)
    return check


def _email(form, field) -> None:
    if field.data and not usable_address(field.data):
        raise ValidationError("Enter an email address in the correct format, like accounts@example.nhs.uk.")


def _printable(form, field) -> None:
    if field.data and any(not ch.isprintable() for ch in field.data):
        raise ValidationError(f"{field.label.text} must be one line of ordinary characters.")


def _text(label: str, required: str | None, limit: int, filters=(_strip,)) -> StringField:
    validators = [_required(required)] if required else [Optional()]
    validators += [Length(max=limit, message=f"{label} can have at most {limit} characters."), _printable]
    return StringField(label, filters=list(filters), validators=validators)


# The fields in the order the page shows them (templates/checkout/invoice.html gives each the
# id of its name, for the error summary's links).
FIELDS = (
    "organisation", "po_number", "contact_name", "contact_email", "finance_email",
    "billing_line1", "billing_line2", "billing_city", "billing_postcode", "billing_country",
    "delivery_name", "delivery_line1", "delivery_line2", "delivery_city", "delivery_postcode",
    "delivery_country",
)


class InvoiceForm(FlaskForm):
    organisation = _text("Organisation", "Enter the name of your organisation.", invoicing.MAX_ORGANISATION)
    po_number = StringField("Purchase order (PO) number", filters=[_exact])
    contact_name = _text("Your name", "Enter your name.", invoicing.MAX_NAME)
    contact_email = _text("Your email address", "Enter your email address.", 320)
    finance_email = _text("Finance (accounts payable) email address",
                          "Enter the email address of your accounts payable team.", 320)
    billing_line1 = _text("Billing address line 1", "Enter the first line of the billing address.", invoicing.MAX_LINE)
    billing_line2 = _text("Billing address line 2 (optional)", None, invoicing.MAX_LINE)
    billing_city = _text("Billing town or city", "Enter the town or city of the billing address.", invoicing.MAX_CITY)
    billing_postcode = _text("Billing postcode", None, invoicing.MAX_POSTCODE)
    billing_country = SelectField("Billing country", validators=[_required("Choose the billing country.")])
    delivery_name = _text("Deliver to (a name or department)", "Enter who the parcel is for.", invoicing.MAX_NAME)
    delivery_line1 = _text("Delivery address line 1", "Enter the first line of the delivery address.", invoicing.MAX_LINE)
    delivery_line2 = _text("Delivery address line 2 (optional)", None, invoicing.MAX_LINE)
    delivery_city = _text("Delivery town or city", "Enter the town or city of the delivery address.", invoicing.MAX_CITY)
    delivery_postcode = _text("Delivery postcode", None, invoicing.MAX_POSTCODE)
    delivery_country = SelectField("Delivery country", validators=[_required("Choose the delivery country.")])
    # One-time: a second submission of this form finds the order the first placed.
    request_token = HiddenField()

    def validate_po_number(self, field) -> None:
        try:
            field.data = invoicing.clean_po_number(field.data or "")
        except invoicing.InvoiceError as error:
            raise ValidationError(error.message) from None

    def validate_contact_email(self, field) -> None:
        _email(self, field)

    def validate_finance_email(self, field) -> None:
        _email(self, field)

    def validate_billing_postcode(self, field) -> None:
        if not field.data and self.billing_country.data == "GB":
            raise ValidationError("Enter the postcode of the billing address.")

    def validate_delivery_postcode(self, field) -> None:
        if not field.data and self.delivery_country.data == "GB":
            raise ValidationError("Enter the postcode of the delivery address.")

    def validate_request_token(self, field) -> None:
        if not field.data or len(field.data) > 64 or not field.data.isalnum():
            raise ValidationError("The form had expired: please check it and send it again.")

    def fill_token(self) -> None:
        if not self.request_token.data:
            self.request_token.data = secrets.token_hex(16)

    def errors_by_field(self) -> dict[str, str]:
        """The first message of each field, in the page's order (the CSRF one first)."""
        found = {name: str(self[name].errors[0]) for name in FIELDS if self[name].errors}
        if self.request_token.errors:
            found = {"request_token": str(self.request_token.errors[0]), **found}
        if self.csrf_token.errors:
            found = {"csrf_token": "The form had expired: please check it and send it again.", **found}
        return found

    def organisation_details(self) -> invoicing.Organisation:
        return invoicing.Organisation(
            name=self.organisation.data,
            po_number=self.po_number.data,
            contact_name=self.contact_name.data,
            contact_email=self.contact_email.data,
            finance_email=self.finance_email.data,
            billing=PostalAddress(self.billing_line1.data, self.billing_line2.data or None, self.billing_city.data,
                                  (self.billing_postcode.data or "").upper() or None, self.billing_country.data),
            delivery_name=self.delivery_name.data,
            delivery=PostalAddress(self.delivery_line1.data, self.delivery_line2.data or None, self.delivery_city.data,
                                   (self.delivery_postcode.data or "").upper() or None, self.delivery_country.data),
        )
