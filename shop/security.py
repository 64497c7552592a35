"""Request guards that apply to every route, so no single view can forget them."""

from flask import Flask, abort, request

NUL = "\x00"


def register_input_guards(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():
        # No form or link of ours sends a NUL; PostgreSQL cannot store one in a text column, and
        # it would otherwise surface as a database error deep inside a view.
        values = list(request.args.values())
        if request.method == "POST" and request.mimetype != "application/json":
            values += request.form.values()
        if any(NUL in value for value in values) or NUL in request.path:
            abort(400, description="Part of that request contains a character we cannot accept.")
