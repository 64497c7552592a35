"""Moderation forms. Every POST form is a FlaskForm, so it carries a CSRF token."""

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, ValidationError

from shop.comments import rules
from shop.comments.queries import QUEUE_FILTERS
from shop.comments.rules import CommentDetails, clean_line, clean_text
from shop.comments.services import ACTIONS

# A button's value: an action for the ticked comments ("approve"), or for one ("approve-12").
DECISION = re.compile(r"^(approve|reject|spam)(?:-([0-9]{1,12}))?$")
MAX_SELECTED = 500


class QueueFilterForm(FlaskForm):
    """GET form: no CSRF (it changes nothing), and a bad value falls back to the waiting ones."""

    class Meta:
        csrf = False

    status = SelectField(
        "Show", choices=[SelectChoice(k, v) for k, v in QUEUE_FILTERS.items()], default="pending"
    )


class ModerateForm(FlaskForm):
    comment = SelectMultipleField("Select", coerce=int, validate_choice=False)
    do = StringField(validators=[InputRequired("Choose what to do.")])
    back = HiddenField()

    def validate_do(self, field) -> None:
        match = DECISION.match(field.data or "")
        if match is None:
            raise ValidationError("Choose publish, reject or spam.")
        action, one = match.groups()
        self.status = ACTIONS[action]
        self.ids = [int(one)] if one else list(self.comment.data or [])
        if not self.ids:
            raise ValidationError("Select the comments first: tick the box beside each one.")
        if len(self.ids) > MAX_SELECTED:
            raise ValidationError(f"Select at most {MAX_SELECTED} comments at a time.")

    def back_to(self, default: str) -> str:
        """Where to go afterwards: a page of this desk's comments, never anywhere else."""
        target = self.back.data or ""
        if re.fullmatch(r"/staff/comments[A-Za-z0-9/?=&%._-]*", target) and "//" not in target:
            return target
        return default


def _rule(name: str, value) -> None:
    try:
        rules.check(name, value)
    except rules.RuleBroken as broken:
        raise ValidationError(str(broken)) from None


class EditCommentForm(FlaskForm):
    """What a moderator may correct (a typo, a phone number left in the text). Not the email
    address, which is the reader's own and is never shown, nor the number or date."""

    name = StringField("Name", filters=[clean_line])
    job_title = StringField("Job title (optional)", filters=[clean_line])
    organisation = StringField("Organisation (optional)", filters=[clean_line])
    text = TextAreaField("Comment", filters=[clean_text])
    # The revision the editor started from: a save is written only over that one.
    revision = HiddenField(validators=[DataRequired(), Length(max=12)])

    def validate_name(self, field) -> None:
        _rule("name", field.data)

    def validate_job_title(self, field) -> None:
        _rule("job_title", field.data)

    def validate_organisation(self, field) -> None:
        _rule("organisation", field.data)

    def validate_text(self, field) -> None:
        _rule("text", field.data)

    def validate_revision(self, field) -> None:
        if not (field.data or "").isdigit():
            raise ValidationError("This form is not one of ours; reload the page.")

    def details(self) -> CommentDetails:
        return CommentDetails(
            name=self.name.data,
            job_title=self.job_title.data or None,
            organisation=self.organisation.data or None,
            text=self.text.data,
        )


class CommentsOpenForm(FlaskForm):
    open = HiddenField(validators=[AnyOf(["yes", "no"])])


class EraseForm(FlaskForm):
    email = StringField(
        "Their email address",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[DataRequired("Enter the email address to erase."), Length(max=320)],
    )
    remove_text = BooleanField("Also remove the text of their comments")
