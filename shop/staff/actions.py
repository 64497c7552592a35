"""The shape every staff action shares: validate, act, commit once, flash, go back."""

from collections.abc import Callable

from flask import flash
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from shop.errors import ShopError
from shop.extensions import db


def run_action(form: FlaskForm, action: Callable[[], str | None], done: str, back: Response) -> Response:
    """Validate ``form`` and run ``action()``; commit once and flash ``action``'s own message
    (or ``done``), or roll back and flash the first form error or the ``ShopError``'s message.
    Either way answer with ``back``."""
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(str(errors[0]), "error")
            break
        return back
    try:
        message = action()
    except ShopError as error:
        db.session.rollback()
        flash(error.message, "error")
        return back
    db.session.commit()
    flash(message or done, "success")
    return back
