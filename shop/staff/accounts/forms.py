"""Forms of /staff/accounts and of the one-time password links. Every one is a FlaskForm, so
every POST carries a CSRF token."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectMultipleField
from wtforms.validators import DataRequired, EqualTo, Length
from wtforms.widgets import CheckboxInput, ListWidget

from shop.staff import roles


class RolesField(SelectMultipleField):
    """The four roles as checkboxes, each with what it is for."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, label=None, validators=None, **kwargs):
        choices = [SelectChoice(role, f"{name}: {purpose}") for role, (name, purpose) in roles.ROLES.items()]
        super().__init__(label, validators, choices=choices, **kwargs)


class InviteForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Type the new member of staff's email address."), Length(max=320)])
    roles = RolesField("Roles")


class RolesForm(FlaskForm):
    roles = RolesField("Roles")


class AccountActionForm(FlaskForm):
    """Disable, enable, reset: a button and its CSRF token."""


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired("Choose a password."), Length(max=1024)]
    )
    confirm = PasswordField(
        "The same password again",
        validators=[DataRequired("Type the password a second time."), EqualTo("password", "The two passwords differ.")],
    )
