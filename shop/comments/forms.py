"""The readers' comment form. Each field is checked by the comments' own rules (comments.rules).

No CSRF token: the form is on the publication page, which a new reader gets without a session
(a per-session token would give every reader a cookie and make the page uncacheable). The
app-wide cross-origin guard (shop.web.security) is its defence against forged posts, as for the
add-to-basket form; the honeypot, the signed time (comments.stamp), the link cap and the
per-address limit are its defences against robots.
"""

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

from shop.comments import rules
from shop.comments.rules import CommentDetails, clean_line, clean_text

# What the reader types, in the order the form shows it (templates/comments/_form.html gives
# each the id comment-<name>, underscores as hyphens).
FIELDS = ("name", "job_title", "organisation", "email", "text")


def _checked(name: str, value, max_links: int | None = None) -> None:
    try:
        rules.check(name, value, max_links)
    except rules.RuleBroken as broken:
        raise ValidationError(str(broken)) from None


class CommentForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name", filters=[clean_line])
    job_title = StringField("Job title (optional)", filters=[clean_line])
    organisation = StringField("Organisation (optional)", filters=[clean_line])
    email = EmailField("Email address", filters=[clean_line])
    text = TextAreaField("Comment", filters=[clean_text])
    # A field people never see (hidden by the stylesheet and from screen readers): robots that
    # fill in every field fill this one too.
    homepage = StringField("Leave this empty")
    # When the form was shown, signed (comments.stamp).
    shown = HiddenField()

    def validate_name(self, field) -> None:
        _checked("name", field.data)

    def validate_job_title(self, field) -> None:
        _checked("job_title", field.data)

    def validate_organisation(self, field) -> None:
        _checked("organisation", field.data)

    def validate_email(self, field) -> None:
        _checked("email", field.data)

    def validate_text(self, field) -> None:
        _checked("text", field.data, max_links=current_app.config["COMMENTS_MAX_LINKS"])

    @property
    def is_trapped(self) -> bool:
        """The honeypot field has something in it: a robot's post."""
        return bool((self.homepage.data or "").strip())

    def details(self) -> CommentDetails:
        return CommentDetails(
            name=self.name.data,
            job_title=self.job_title.data or None,
            organisation=self.organisation.data or None,
            text=self.text.data,
        )

    def values(self) -> dict[str, str]:
        """What the reader typed, to put back into the form (never lost on an error)."""
        return {name: self[name].data or "" for name in FIELDS}

    def field_errors(self) -> dict[str, str]:
        return {name: str(self[name].errors[0]) for name in FIELDS if self[name].errors}
