"""The realistic ceiling: Flask + Flask-SQLAlchemy + a Jinja template, one row by primary key.

``BENCH_DATABASE_URL=… gunicorn bench.apps.realistic:app``; ``GET /publications/<id>`` renders
one publication of the shop's table, the least any catalogue page has to do. Same stack and
versions as the shop (Flask-SQLAlchemy session per request, autoescaped template with a base
layout), none of its features (no sessions, forms, CSRF, login, limiter, ISBN formatting).
"""

import os

from flask import Flask, abort, render_template
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Publication(db.Model):
    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(String(13))
    title: Mapped[str] = mapped_column(String(300))
    subtitle: Mapped[str | None] = mapped_column(String(300))
    publisher: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    pages: Mapped[int]
    price_pence: Mapped[int]
    stock: Mapped[int]
    summary: Mapped[str]


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_DATABASE_URL"]
    db.init_app(app)

    @app.get("/publications/<int:pub_id>")
    def publication(pub_id: int):
        pub = db.session.get(Publication, pub_id)
        if pub is None:
            abort(404)
        return render_template("publication.html", pub=pub)

    return app


app = create_app()
