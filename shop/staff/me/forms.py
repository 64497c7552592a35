"""Forms of one's own account: the second step of signing in, and setting up two-factor sign-in."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length


class CodeForm(FlaskForm):
    code = StringField(
        "Code", validators=[DataRequired("Type the code your authenticator app shows."), Length(max=40)]
    )


class EnrolForm(FlaskForm):
    secret = HiddenField()
    code = StringField(
        "Code from the app", validators=[DataRequired("Type the 6-digit code the app shows."), Length(max=20)]
    )


class ButtonForm(FlaskForm):
    """New recovery codes, or turning two-factor sign-in off: a button and its CSRF token."""
