"""The print-copy shop: an application factory and nothing else."""

import logging
from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, with ``config`` (tests) taking precedence."""
    from shop.config import INSTANCE_DIR, load_config

    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_mapping(load_config())
    if config:
        app.config.from_mapping(config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set in the environment")
    from shop.web.sessions import CookieSessionInterface

    app.session_interface = CookieSessionInterface()
    INSTANCE_DIR.mkdir(exist_ok=True)
    logging.basicConfig(
        level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # a line per glyph table, per receipt

    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_commands(app)
    from shop.errors import register_error_handlers

    register_error_handlers(app)
    from shop.web.hooks import csrf_check
    from shop.web.security import register_input_guards, register_security_headers

    register_input_guards(app, csrf_protect=csrf_check(app))
    register_security_headers(app)
    return app


def register_extensions(app: Flask) -> None:
    from pathlib import Path

    from shop.extensions import csrf, db, limiter, login_manager, migrate

    on_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    db.init_app(app)
    # current_user goes into staff templates only (staff blueprint): loading it costs public
    # pages a session read and a hash for nothing.
    login_manager.init_app(app, add_context_processor=False)
    # Staff sessions are records named by their own cookie (shop.staff.sessions), loaded by a
    # request loader; the basket's session cookie holds nothing of them to protect.
    login_manager.session_protection = None
    limiter.init_app(app)
    if app.config["TRUSTED_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    from shop.web.hooks import trim_extension_hooks

    trim_extension_hooks(app, limiter, login_manager)
    from shop import prepared
    from shop.catalogue import search as catalogue_search
    from shop.comments import stamp as comment_stamp
    from shop.payments import gateway
    from shop.staff import auth as staff_auth
    from shop.web import fragments, pagecache, readonly

    pagecache.init_app(app)
    fragments.init_app(app)
    catalogue_search.init_app(app)
    comment_stamp.init_app(app)
    staff_auth.init_app(app)
    gateway.init_app(app)
    with app.app_context():
        readonly.init_app(app, db.engine.dialect.name)
        if on_sqlite:
            _tune_sqlite(db.engine)  # a file on this machine: its connections cannot go stale
        else:
            _ping_idle_connections(db.engine, app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])
            prepared.install(db.engine)


def _ping_idle_connections(engine, idle_seconds: float) -> None:
    """Check a pooled connection before use when it has sat idle in the pool for ``idle_seconds``,
    where a server restart or an idle timeout would have closed it; a dead one is replaced
    unseen. SQLAlchemy's ``pool_pre_ping`` checks before every use: a round trip on every page
    (about 5% of the publication page on PostgreSQL) for connections in use milliseconds ago."""
    import time

    from sqlalchemy import event, exc

    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection, record, proxy) -> None:
        returned_at = record.info.get("returned_at")  # none yet: a new connection
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # The pool connects afresh, and drops its other connections from before now.
                raise exc.InvalidatePoolError() from error
            raise


def _tune_sqlite(engine) -> None:
    """Enforce foreign keys, wait for the write lock instead of failing at once, and use the
    write-ahead log so readers never wait for a writer (webhooks and pages at the same time)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    """Every blueprint, nested ones too: staff.orders, staff.catalogue, staff.comments,
    staff.accounts and staff.me sit under staff, whose guard (sign-in, second factor, roles)
    covers them."""
    from shop.basket.views import bp as basket_bp
    from shop.catalogue.covers import bp as covers_bp
    from shop.catalogue.views import bp as catalogue_bp
    from shop.checkout.views import bp as checkout_bp
    from shop.comments.views import bp as comments_bp
    from shop.notify.views import bp as notify_bp
    from shop.orders.views import bp as orders_bp
    from shop.pages.views import bp as pages_bp
    from shop.staff.accounts.views import bp as staff_accounts_bp
    from shop.staff.catalogue.views import bp as staff_catalogue_bp
    from shop.staff.comments.views import bp as staff_comments_bp
    from shop.staff.me.views import bp as staff_me_bp
    from shop.staff.orders.views import bp as staff_orders_bp
    from shop.staff.views import bp as staff_bp
    from shop.web.health import bp as health_bp

    # Blueprints are module-level objects and the factory runs once per app (tests make many):
    # nest the children the first time only.
    nested = {child for child, _options in staff_bp._blueprints}
    for child in (staff_orders_bp, staff_catalogue_bp, staff_comments_bp, staff_accounts_bp, staff_me_bp):
        if child not in nested:
            staff_bp.register_blueprint(child)
    for bp in (catalogue_bp, covers_bp, comments_bp, basket_bp, checkout_bp, notify_bp, orders_bp,
               pages_bp, health_bp, staff_bp):
        app.register_blueprint(bp)


def register_template_helpers(app: Flask) -> None:
    from flask import session

    from shop.catalogue.availability import long_date
    from shop.catalogue.codes import (
        availability_words,
        by_role,
        publishing_status_words,
        subject_words,
    )
    from shop.isbn import hyphenate
    from shop.money import decimal_pounds, format_pence
    from shop.orders.timeline import describe
    from shop.timeutil import local

    app.add_template_filter(format_pence, "money")
    app.add_template_filter(decimal_pounds, "pounds")
    app.add_template_filter(hyphenate, "isbn")
    app.add_template_filter(describe, "describe_event")
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(by_role, "by_role")
    app.add_template_filter(subject_words, "subject_words")
    app.add_template_filter(publishing_status_words, "publishing_status_words")
    app.add_template_filter(availability_words, "availability_words")
    from shop.catalogue.codes import CONTRIBUTOR_ROLES, THEMA_SUBJECTS

    app.jinja_env.globals.update(contributor_roles=CONTRIBUTOR_ROLES, thema_subjects=THEMA_SUBJECTS)
    app.add_template_filter(lambda moment: local(moment).strftime("%-d %b %Y %H:%M") if moment else "", "localtime")
    app.add_template_filter(lambda day: day.strftime("%A %-d %B %Y") if day else "", "longdate")
    from shop.text import summary_html

    app.add_template_filter(summary_html, "summary_html")

    # Fixed for the app's life, so the cached public pages that show them stay true.
    from shop import delivery
    from shop.seller import seller_from_config

    seller = seller_from_config(app.config)
    estimates = [
        (spec["label"], delivery.describe(delivery.estimate(app.config["DELIVERY_ESTIMATES"], key)))
        for key, spec in app.config["POSTAGE_REGIONS"].items()
        if delivery.estimate(app.config["DELIVERY_ESTIMATES"], key)
    ]

    @app.context_processor
    def basket_count():
        # Read from the cookie only: the header's count costs no query.
        def count() -> int:
            from shop.basket.services import clean_items

            return sum(clean_items(session.get("basket")).values())

        return {
            "basket_count": count,
            "site_name": app.config["SHOP_NAME"],
            "seller": seller,
            "delivery_estimates": estimates,
        }


def register_commands(app: Flask) -> None:
    from shop.cli import register

    register(app)
