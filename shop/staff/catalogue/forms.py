"""Staff catalogue forms. Each POST form is a FlaskForm, so it carries a CSRF token; each field
says in its message what to type."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    StopValidation,
    ValidationError,
)

from shop import isbn as isbns
from shop.catalogue import codes, rules
from shop.catalogue.admin import details_of, fingerprint
from shop.catalogue.models import Publication
from shop.catalogue.rules import PublicationDetails
from shop.errors import InvalidISBN
from shop.money import InvalidAmount, decimal_pounds, parse_pounds

SORT_LABELS = {"title": "Title", "isbn": "ISBN", "stock": "Stock, lowest first"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _lines(value):
    """Textareas send CRLF; store LF, so saving an unchanged summary changes nothing."""
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


def _rule(name: str, value) -> None:
    try:
        rules.check(name, value)
    except rules.RuleBroken as broken:
        raise ValidationError(str(broken)) from None


class WholeNumberField(IntegerField):
    """ASCII digits only (not '+3', '1e3', '٣'), with a message that says what to type; a huge
    number parses as too large, for the range message to explain. Required: blank gets
    ``required_message``. Range checks (``validate_<name>``) run only on a number."""

    def __init__(self, label=None, validators=None, *, message: str, required_message: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message
        self.required_message = required_message
        self.flags.required = True

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip()
        if not raw:
            self.data = None
            return
        if not (raw.isascii() and raw.isdigit()):
            self.data = None
            raise ValueError(self.message)
        self.data = int(raw) if len(raw) <= 9 else 10**9

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()  # the message is already there
        if self.data is None:
            raise StopValidation(self.required_message)


class CatalogueSearchForm(FlaskForm):
    """GET form: no CSRF (it changes nothing), and a bad value is ignored, not fatal."""

    class Meta:
        csrf = False

    q = StringField("Title words or ISBN", validators=[Optional(), Length(max=200)])
    sort = SelectField("Sort by", choices=[SelectChoice(k, v) for k, v in SORT_LABELS.items()], default="title")


FIELD_OF_DETAIL = {"price_pence": "price"}  # where a PublicationDetails name is not the field's


def _contributor_lines(value):
    """The textarea's lines, as parse_contributor reads each."""
    return [line for line in (value or "").replace("\r\n", "\n").split("\n") if line.strip()]


class OptionalDateField(DateField):
    """A date typed as the browser's date input sends it (2027-03-01), or left blank; any other
    text gets ``message`` rather than WTForms' own."""

    def __init__(self, label=None, validators=None, *, message: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            super().process_formdata([valuelist[0].strip()])
        except ValueError:
            self.data = None
            raise ValueError(self.message) from None


def _coded_choices(table: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(code, codes.with_code(words, code)) for code, words in table.items()]


def _form_data(details: PublicationDetails) -> dict:
    return {
        "started_from": fingerprint(details),
        "title": details.title,
        "subtitle": details.subtitle or "",
        "publisher": details.publisher,
        "year": details.year,
        "pages": details.pages,
        "price": decimal_pounds(details.price_pence),
        "summary": details.summary or "",
        "pdf_url": details.pdf_url or "",
        "publishing_status": details.publishing_status,
        "availability": details.availability,
        "publication_date": details.publication_date,
        "expected_ship_date": details.expected_ship_date,
        "contributors": "\n".join(c.in_words() for c in details.contributors),
        "subjects": "; ".join(details.subjects),
        "price_breaks": "\n".join(b.coded() for b in details.price_breaks),
    }


class PublicationForm(FlaskForm):
    """The details staff may edit. Not the ISBN (fixed once created) nor the stock (changed only
    by a stock adjustment, so an old form cannot undo a checkout's reservation)."""

    title = StringField("Title", filters=[_strip], validators=[DataRequired("Enter the title.")])
    subtitle = StringField("Subtitle (optional)", filters=[_strip], validators=[Optional()])
    publisher = StringField("Publisher", filters=[_strip], validators=[DataRequired("Enter the publisher.")])
    year = WholeNumberField(
        "Year published",
        message="Enter the year of publication as four digits, such as 2012.",
        required_message="Enter the year of publication, such as 2012.",
    )
    pages = WholeNumberField(
        "Pages",
        message="Enter the number of pages as a whole number, such as 48.",
        required_message="Enter the number of pages, such as 48.",
    )
    price = StringField(
        "Price (£)", filters=[_strip], validators=[InputRequired("Enter the price, such as 8.50.")]
    )
    summary = TextAreaField("Summary", filters=[_lines], validators=[Optional()])
    pdf_url = StringField("Free PDF link (optional)", filters=[_strip], validators=[Optional()])
    # The lifecycle, in words with the ONIX code beside (lists 64 and 65).
    publishing_status = SelectField(
        "Publishing status", choices=_coded_choices(codes.PUBLISHING_STATUSES), default=codes.ACTIVE,
        validators=[DataRequired("Choose the publishing status.")],
    )
    availability = SelectField(
        "Availability", choices=_coded_choices(codes.AVAILABILITIES), default=codes.IN_STOCK,
        validators=[DataRequired("Choose the availability.")],
    )
    publication_date = OptionalDateField(
        "Publication date (optional)",
        message="Enter the publication date as a date, such as 2027-03-01, or leave it empty.",
    )
    expected_ship_date = OptionalDateField(
        "Copies expected (optional)",
        message="Enter the date copies are expected, such as 2027-03-01, or leave it empty.",
    )
    contributors = TextAreaField("Contributors (optional)", filters=[_lines], validators=[Optional()])
    subjects = StringField("Thema subject codes (optional)", filters=[_strip], validators=[Optional()])
    price_breaks = TextAreaField("Volume prices (optional)", filters=[_lines], validators=[Optional()])
    # The edit page's fingerprint of the details it showed (admin.fingerprint); not on the new page.
    started_from = HiddenField()

    @classmethod
    def for_publication(cls, publication: Publication) -> "PublicationForm":
        return cls(data=_form_data(details_of(publication)))

    def start_again_from(self, current: PublicationDetails, edited: set[str]) -> None:
        """After an edit conflict: the fields this editor changed keep what they typed, the rest
        show the publication as it is now, and the form starts from now."""
        kept = {FIELD_OF_DETAIL.get(name, name) for name in edited}
        for name, value in _form_data(current).items():
            if name not in kept:
                self[name].data = value
                self[name].raw_data = None  # number fields show raw_data first

    # Each check is the catalogue's own rule (catalogue.rules), as the imports and admin use.
    def validate_title(self, field) -> None:
        _rule("title", field.data)

    def validate_subtitle(self, field) -> None:
        _rule("subtitle", field.data)

    def validate_publisher(self, field) -> None:
        _rule("publisher", field.data)

    def validate_year(self, field) -> None:
        _rule("year", field.data)

    def validate_pages(self, field) -> None:
        _rule("pages", field.data)

    def validate_price(self, field) -> None:
        try:
            pence = parse_pounds(field.data)
        except InvalidAmount as error:
            raise ValidationError(str(error)) from None
        _rule("price_pence", pence)
        field.pence = pence

    def validate_summary(self, field) -> None:
        _rule("summary", field.data)

    def validate_pdf_url(self, field) -> None:
        _rule("pdf_url", field.data)

    def validate_publication_date(self, field) -> None:
        _rule("publication_date", field.data)

    def validate_expected_ship_date(self, field) -> None:
        _rule("expected_ship_date", field.data)

    def validate_contributors(self, field) -> None:
        try:
            field.parsed = tuple(rules.parse_contributor(line) for line in _contributor_lines(field.data))
            rules.check_contributors(field.parsed)
        except rules.RuleBroken as broken:
            raise ValidationError(str(broken)) from None

    def validate_price_breaks(self, field) -> None:
        try:
            field.parsed = rules.parse_price_breaks(field.data or "")
        except rules.RuleBroken as broken:
            raise ValidationError(str(broken)) from None

    def validate_subjects(self, field) -> None:
        try:
            field.parsed = rules.parse_subjects(field.data or "")
        except rules.RuleBroken as broken:
            raise ValidationError(str(broken)) from None

    def validate(self, extra_validators=None) -> bool:
        """Each field by its rule, then the rules between fields (catalogue.rules.check_together),
        each message on the field it names."""
        if not super().validate(extra_validators):
            return False
        details = self.details()
        problems = rules.check_together({name: getattr(details, name) for name in rules.DETAIL_NAMES})
        for name, message in problems.items():
            self[FIELD_OF_DETAIL.get(name, name)].errors.append(message)
        return not problems

    def details(self) -> PublicationDetails:
        """The validated fields, as the service takes them (the price in pence)."""
        return PublicationDetails(
            title=self.title.data,
            subtitle=self.subtitle.data or None,
            publisher=self.publisher.data,
            year=self.year.data,
            pages=self.pages.data,
            price_pence=self.price.pence,
            summary=self.summary.data or "",
            pdf_url=self.pdf_url.data or None,
            publishing_status=self.publishing_status.data,
            availability=self.availability.data,
            publication_date=self.publication_date.data,
            expected_ship_date=self.expected_ship_date.data,
            contributors=getattr(self.contributors, "parsed", ()),
            subjects=getattr(self.subjects, "parsed", ()),
            price_breaks=getattr(self.price_breaks, "parsed", ()),
        )


class NewPublicationForm(PublicationForm):
    isbn = StringField(
        "ISBN", filters=[_strip], validators=[DataRequired("Enter the ISBN."), Length(max=40)]
    )
    stock = WholeNumberField(
        "Copies in stock",
        default=0,
        message="Enter the copies in stock as a whole number, 0 or more.",
        required_message="Enter the copies in stock, 0 or more.",
    )

    def validate_isbn(self, field) -> None:
        try:
            field.isbn13 = isbns.normalise(field.data)
        except InvalidISBN as error:
            raise ValidationError(error.message) from None

    def validate_stock(self, field) -> None:
        _rule("stock", field.data)


class StockForm(FlaskForm):
    reason = SelectField(
        "Why",
        choices=[SelectChoice(k, v) for k, v in rules.STOCK_REASONS.items()],
        validators=[InputRequired("Choose why the stock is changing.")],
    )
    quantity = WholeNumberField(
        "Copies",
        message="Enter the number of copies as a whole number, such as 10.",
        required_message="Enter the number of copies.",
    )

    def validate_quantity(self, field) -> None:
        if self.reason.data in rules.STOCK_REASONS:  # else the reason's own message says it
            try:
                rules.check_stock_change(self.reason.data, field.data)
            except rules.RuleBroken as broken:
                raise ValidationError(str(broken)) from None


class SaleForm(FlaskForm):
    """Withdraw from sale, or return to it."""

    reason = StringField("Reason (optional)", filters=[_strip], validators=[Optional(), Length(max=300)])


class CoverForm(FlaskForm):
    cover = FileField("Cover image (JPEG, PNG or WebP)", validators=[FileRequired("Choose an image file to upload.")])


class RemoveCoverForm(FlaskForm):
    pass
