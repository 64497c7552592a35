"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL when DATABASE_URL says so), a
Stripe-compatible sandbox on loopback that the real SDK calls over HTTP, and a shopper that uses
the forms as a browser would, CSRF tokens included."""

import copy
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import jinja2
import pytest
import requests
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from sqlalchemy.util import LRUCache
from werkzeug.routing import Rule
from werkzeug.serving import make_server

from sandbox import SandboxServer
from sandbox.versions import LATEST as SANDBOX_API_VERSION
from shop import create_app, prepared
from shop.catalogue.models import Publication
from shop.extensions import db as _db
from tests import status_guard
from tests.support import CSRF_RE, csrf_token, isbn13  # noqa: F401 (re-exported to tests)

WEBHOOK_SECRET = "whsec_test_secret"
# Argon2id at its lowest cost: the suite hashes hundreds of passwords (test_config checks the
# production defaults).
CHEAP_HASHING = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8, "ARGON2_PARALLELISM": 1}
STRIPE_KEY = "sk_test_shop_tests"
ISBN = "9781857176407"


class _CompiledTemplates(jinja2.BytecodeCache):
    """Every test builds a new app, and so a new Jinja environment that would compile each
    template again (a quarter of the suite's time). This keeps the compiled code for the run,
    keyed by template name and used only while the template's source has the same checksum."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _CompiledTemplates()}


def _keep_compiled_routes() -> None:
    """Every test's new app also has werkzeug parse each of its ~100 routes and compile two URL
    builders for it (an AST, then ``compile``): two fifths of the suite's set-up time. What that
    makes depends on the rule's text and the map's settings alone, so the test process keeps it
    and gives each new rule the same parts and builders, and copies of the converters bound to
    its own map."""
    compile_rule = Rule.compile
    kept: dict[tuple, tuple] = {}

    def compile_once(self: Rule) -> None:
        key = (self.rule, self.subdomain, self.host, self.map.host_matching, self.merge_slashes,
               repr(self.defaults), tuple(self.map.converters.items()))
        known = kept.get(key)
        if known is None:
            compile_rule(self)
            kept[key] = (self._parts, self._trace, self._converters, self._build.__func__,
                         self._build_unknown.__func__)
            return
        parts, trace, converters, build, build_unknown = known
        self._parts, self._trace = list(parts), list(trace)
        self._converters = {}
        for name, converter in converters.items():
            self._converters[name] = copy.copy(converter)
            self._converters[name].map = self.map
        self._build = build.__get__(self, None)
        self._build_unknown = build_unknown.__get__(self, None)

    Rule.compile = compile_once  # type: ignore[method-assign]


_keep_compiled_routes()


class _CompiledStatements(LRUCache):
    """One SQL statement cache for every test's engine. SQLAlchemy keys a compiled statement on
    the engine's dialect object, and each test's app makes a new engine, so every test compiled
    each statement it ran afresh: a seventh of the suite's time. Engines made from the same URL
    compile the same statement to the same SQL, so the key names the dialect's class and server
    version instead of the object."""

    @staticmethod
    def _shared(key):
        dialect = key[0]
        return (type(dialect), dialect.server_version_info, dialect.paramstyle, *key[1:])

    def get(self, key, default=None):
        return super().get(self._shared(key), default)

    def __getitem__(self, key):
        return super().__getitem__(self._shared(key))

    def __setitem__(self, key, value):
        super().__setitem__(self._shared(key), value)


_COMPILED_STATEMENTS = _CompiledStatements(5000)


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'shop-test.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and url.startswith("postgresql"):
        # pytest-xdist (make test runs one worker per core): each worker empties and migrates a
        # database of its own, named after DATABASE_URL's with the worker's id (test_gw0, ...).
        return _own_postgres_database(url, worker)
    return url


def _own_postgres_database(url: str, worker: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A database with every migration applied, once per test run."""
    from flask_migrate import upgrade

    url = _database_url(tmp_path_factory)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, **CHEAP_HASHING})
    with app.app_context():
        if url.startswith("postgresql"):
            # Start from nothing, so the migrations (not leftovers) define the schema.
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        _db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[SandboxServer]:
    server = SandboxServer(webhook_secret=WEBHOOK_SECRET)
    server.start()
    yield server
    server.stop()
    # Requests made outside any test (in session fixtures) are held to Stripe's rules too.
    assert_requests_conform(server)


def assert_requests_conform(server: SandboxServer) -> None:
    """Fail unless every request sent to ``server`` since the last call is one Stripe's real
    API would accept: its parameters checked against the pinned stripe-python's types (unknown
    keys, wrong types, values outside enums; sandbox/conformance.py), whatever the sandbox
    answered."""
    refused = server.state.take_nonconforming()
    assert not refused, "Stripe would refuse these requests:\n" + "\n".join(
        f"{entry['method']} {entry['path']}: " + "; ".join(p["message"] for p in entry["problems"])
        for entry in refused
    )


status_guard.install()
prepared.verify = True  # PostgreSQL confirms each transaction shop.prepared commits wrote nothing


@pytest.fixture(autouse=True)
def order_status_moves_only_by_transition() -> Iterator[None]:
    """Fails any test in which an order's status was written outside ``transition()`` (even
    where the code that did it swallowed the error): see tests/status_guard.py."""
    status_guard.offences.clear()
    yield
    assert status_guard.offences == [], "\n\n".join(status_guard.offences)


@pytest.fixture(autouse=True)
def read_only_commits_wrote_nothing() -> Iterator[None]:
    """Fails any test in which shop.prepared was about to COMMIT, in place of a ROLLBACK, a
    transaction that had written (even where the error it raised was swallowed)."""
    prepared.offences.clear()
    yield
    assert prepared.offences == [], "\n\n".join(prepared.offences)


@pytest.fixture(autouse=True)
def stripe_requests_conform(request) -> Iterator[None]:
    """After each test that had the shop's Stripe sandbox running, every request it sent there
    (from the shop, the SDK in the test, or a shop process it started) must conform."""
    yield
    if "stripe_server" in request.fixturenames:
        assert_requests_conform(request.getfixturevalue("stripe_server"))


SANDBOX_DEFAULTS = {
    "webhook_url": None,
    "webhook_secret": WEBHOOK_SECRET,
    "deliver_webhooks": False,
    "webhook_api_version": None,
    "api_version": SANDBOX_API_VERSION,
    "payment_methods": ["card", "bacs_debit"],
    "pending_refunds": False,
    "settle_after": None,
}


@pytest.fixture
def sandbox(stripe_server) -> Iterator["Sandbox"]:
    control = Sandbox(stripe_server.url)
    control.post("/_sandbox/reset")
    control.post("/_sandbox/fail", count=0)
    control.post("/_sandbox/config", **SANDBOX_DEFAULTS)
    yield control


class Sandbox:
    """The test side of the sandbox: its control API, in a few words."""

    def __init__(self, url: str):
        self.url = url

    def post(self, path: str, **body):
        response = requests.post(self.url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def get(self, path: str):
        response = requests.get(self.url + path, timeout=10)
        response.raise_for_status()
        return response.json()

    def events(self, type_: str | None = None) -> list[dict]:
        events = self.get("/_sandbox/events")
        events = events.get("data", events) if isinstance(events, dict) else events
        return [e for e in events if type_ is None or e["type"] == type_]

    def event_payload(self, event_id: str, api_version: str | None = None) -> str:
        """The event as the forwarding endpoint receives it, or as an endpoint in
        ``api_version`` does."""
        query = f"?api_version={api_version}" if api_version else ""
        return self.get(f"/_sandbox/events/{event_id}{query}")["payload"]

    def requests_to(self, path: str, method: str = "POST") -> list[dict]:
        log = self.get("/_sandbox/requests")
        log = log.get("data", log) if isinstance(log, dict) else log
        return [r for r in log if r["path"] == path and r["method"] == method]


def _test_config(database_url: str, stripe_url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_MAX_RETRIES": 0,
        "STRIPE_TIMEOUT_SECONDS": 5,
        "SHOP_BASE_URL": "http://shop.test",
        "CHECKOUT_LIMIT_PER_ADDRESS": "1000 per minute",  # tests/checkout lowers it to test it
        **CHEAP_HASHING,
    }


class _ReusedApp:
    """The tests' app, built once per test process and put back before each test as
    ``create_app`` left it. A new app for every test (its blueprints and routes, extensions,
    engine and connection, Jinja environment loading each template again) was most of a short
    test's time: ``make test`` took 57-64 s and 107-124 CPU-seconds, and takes 32-42 s and 65-74.

    Put back: the config, ``app.extensions`` (the page and listing caches empty, the lazily made
    Stripe client gone), the app's hooks and error handlers, Jinja's globals and filters, the
    state of the extension objects the shop shares between apps (``shop.extensions``: a test
    that builds an app of its own binds them to it), the rate limiter's counts, and Flask's "has
    handled a request" mark, so that a test may add a hook. As before, tables are emptied
    before each test and the engine's connections closed after it."""

    _HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
              "teardown_appcontext_funcs", "url_value_preprocessors", "url_default_functions",
              "template_context_processors")

    def __init__(self, config: dict):
        from shop.extensions import csrf, limiter, login_manager, migrate

        app = self.app = create_app(config)

        @app.before_request
        def fresh_globals():
            # Requests made inside a test share the test's app context, and so `g`, where
            # Flask-WTF caches the CSRF token and Flask-Login the signed-in user. A server gives
            # every request its own; so do we, or one test client would see another's user.
            g.__dict__.clear()

        with app.app_context():
            _db.engine._compiled_cache = _COMPILED_STATEMENTS
        self.config = dict(app.config)
        self.extensions = dict(app.extensions)
        self.hooks = {name: _copy_mappings(getattr(app, name)) for name in self._HOOKS}
        self.error_handlers = _copy_mappings(app.error_handler_spec)
        self.jinja_globals = dict(app.jinja_env.globals)
        self.jinja_filters = dict(app.jinja_env.filters)
        self.shared = [(obj, dict(vars(obj))) for obj in (_db, csrf, limiter, login_manager, migrate)]

    def reset(self) -> Flask:
        from shop.catalogue import search
        from shop.extensions import limiter
        from shop.web import fragments, pagecache

        app = self.app
        app.config.clear()
        app.config.update(self.config)
        app.extensions.clear()
        app.extensions.update(self.extensions)
        for name, hooks in self.hooks.items():
            setattr(app, name, _copy_mappings(hooks))
        app.error_handler_spec = _copy_mappings(self.error_handlers)
        for mapping, kept in ((app.jinja_env.globals, self.jinja_globals),
                              (app.jinja_env.filters, self.jinja_filters)):
            mapping.clear()
            mapping.update(kept)
        for obj, state in self.shared:
            vars(obj).clear()
            vars(obj).update(state)
        app._got_first_request = False
        # Caches a test fills: each test starts with them empty, as with a new app.
        pagecache.init_app(app)
        app.extensions[pagecache.HOLES] = self.extensions[pagecache.HOLES]  # registered at start
        search.init_app(app)
        fragments.init_app(app)
        with app.app_context():
            limiter.reset()
        return app


def _copy_mappings(value):
    """A copy of Flask's nested hook and handler registries (defaultdicts of lists or dicts),
    sharing the functions themselves (``deepcopy`` would copy a bound method's object)."""
    if isinstance(value, dict):
        copied = copy.copy(value)  # a defaultdict keeps its default factory
        for key, item in copied.items():
            copied[key] = _copy_mappings(item)
        return copied
    if isinstance(value, list):
        return list(value)
    return value


_REUSED_APPS: dict[tuple[str, str], _ReusedApp] = {}


@pytest.fixture
def app(database_url, stripe_server) -> Iterator[Flask]:
    reused = _REUSED_APPS.get((database_url, stripe_server.url))
    if reused is None:
        reused = _REUSED_APPS[(database_url, stripe_server.url)] = _ReusedApp(
            _test_config(database_url, stripe_server.url))
    app = reused.reset()
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _empty_tables() -> None:
    # Plain SQL text: compiling forty DELETEs costs more than running them. One statement finds
    # the tables a test wrote to, and only they are emptied, children before parents (PostgreSQL
    # takes those DELETEs in one round trip; SQLite's driver runs one statement per call).
    connection = _db.session.connection()
    tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
    written = set(connection.exec_driver_sql(" UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables)).scalars())
    deletes = [f'DELETE FROM "{name}"' for name in tables if name in written]
    if connection.dialect.name == "postgresql" and deletes:
        connection.exec_driver_sql("; ".join(deletes))
    else:
        for delete in deletes:
            connection.exec_driver_sql(delete)
    _db.session.commit()


@pytest.fixture
def db(app):
    with app.app_context():
        yield _db


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_publication(**overrides) -> Publication:
    fields = {
        "isbn": ISBN,
        "title": "Leadership and engagement for improvement in the NHS",
        "subtitle": "Together we can",
        "publisher": "The King's Fund",
        "year": 2012,
        "pages": 48,
        "price_pence": 850,
        "stock": 100,
        "summary": "Our summary.",
    }
    fields.update(overrides)
    publication = Publication(**fields)
    _db.session.add(publication)
    _db.session.commit()
    return publication


@pytest.fixture
def publication(db) -> Publication:
    return make_publication()




class Shopper:
    """A customer using the forms; every POST carries the CSRF token a page gave it."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def token(self) -> str:
        """The token a page would carry: from the basket page when it has a form, otherwise
        minted the way Flask-WTF does (a raw token in the session, signed with the app key)."""
        token = csrf_token(self.client.get("/basket").get_data(as_text=True))
        if token:
            return token
        from itsdangerous import URLSafeTimedSerializer

        with self.client.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        app = self.client.application
        return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)

    def post(self, url: str, **data):
        data.setdefault("csrf_token", self.token())
        return self.client.post(url, data=data)

    def add(self, isbn: str = ISBN, quantity=1):
        return self.post("/basket/add", isbn=isbn, quantity=quantity)

    def update(self, isbn: str = ISBN, quantity=1):
        return self.post("/basket/update", isbn=isbn, quantity=quantity)

    def remove(self, isbn: str = ISBN):
        return self.post("/basket/remove", isbn=isbn)

    def region(self, key: str):
        return self.post("/basket/region", region=key)

    def checkout(self):
        return self.post("/checkout")

    def basket_page(self) -> str:
        return self.client.get("/basket").get_data(as_text=True)

    def basket(self) -> dict:
        with self.client.session_transaction() as session:
            return dict(session.get("basket") or {})


@pytest.fixture
def shopper(client) -> Shopper:
    return Shopper(client)


@contextmanager
def count_queries(engine):
    """Count the SQL statements run inside the block: ``with count_queries(e) as n: ...; n()``."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield lambda: len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The shop served over real HTTP on loopback, for the sandbox's webhooks and for browsers."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Polled for shutdown every 50 ms, not 500: the test's end waits for the next poll.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["SHOP_BASE_URL"] = url
    yield url
    server.shutdown()


def post_webhook(client, payload: str | bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/stripe/webhook", data=payload, headers=headers)


def deliver_event(client, sandbox: Sandbox, event_id: str, api_version: str | None = None):
    """Deliver one sandbox event to the shop, signed with the shop's webhook secret, as an
    endpoint in ``api_version`` would receive it (default: as the event was created)."""
    from sandbox import sign_payload

    payload = sandbox.event_payload(event_id, api_version)
    return post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET))


def deliver_all(client, sandbox: Sandbox, type_: str | None = None) -> list[int]:
    """Deliver every sandbox event (of ``type_``), oldest first; their HTTP statuses."""
    return [deliver_event(client, sandbox, event["id"]).status_code for event in sandbox.events(type_)]


def start_checkout(shopper: Shopper, sandbox: Sandbox, quantity: int = 2, region: str | None = None) -> str:
    """Fill the basket and check out; returns the Checkout Session id Stripe gave the order."""
    shopper.add(quantity=quantity)
    if region:
        shopper.region(region)
    response = shopper.checkout()
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(sandbox.url + "/pay/cs_test_"), location
    return location.rsplit("/", 1)[1]


def pay(sandbox: Sandbox, session_id: str, **overrides) -> list[str]:
    """Pay a session as the hosted page would; returns the ids of the events it emitted."""
    body = {
        "email": "nurse@example.org",
        "name": "Ada Nurse",
        "address": {"line1": "1 Ward Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
    }
    body.update(overrides)
    return sandbox.post(f"/_sandbox/sessions/{session_id}/complete", **body)["event_ids"]


STAFF_EMAIL = "desk@example.org"
STAFF_PASSWORD = "a long enough passphrase"


@pytest.fixture
def staff_user(db):
    """An admin (every staff page); tests/staff/test_roles.py signs in with each role."""
    from shop.staff.accounts.services import create
    from shop.timeutil import utcnow

    user = create(STAFF_EMAIL, STAFF_PASSWORD, ["admin"], 12, None, utcnow())
    db.session.commit()
    return user


def page_token(client: FlaskClient, url: str) -> str:
    token = csrf_token(client.get(url).get_data(as_text=True))
    assert token, f"no CSRF token on {url}"
    return token


def edit_form(client: FlaskClient, isbn: str, **changes) -> dict:
    """The staff edit form of a title as its page fills it (CSRF token and fingerprint too), with
    ``changes`` typed over it: what a browser would send."""
    import html
    import re

    page = client.get(f"/staff/catalogue/{isbn}").get_data(as_text=True)
    form = page[page.index(f'action="/staff/catalogue/{isbn}"'):]
    form = form[: form.index("</form>")]
    data = {name: html.unescape(value) for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)}
    data.update(
        (name, html.unescape(value).removeprefix("\n"))
        for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', form)
    )
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        chosen = re.search(r'<option selected value="([^"]+)"|<option value="([^"]+)" selected', options)
        data[name] = chosen.group(1) or chosen.group(2)
    data.update(changes)
    return data


def sign_in(client: FlaskClient, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD, next_url: str = ""):
    token = page_token(client, "/staff/login")
    url = "/staff/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": token, "email": email, "password": password})


@pytest.fixture
def staff_client(app, staff_user) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def make_order(
    *,
    status: str = "paid",
    created_at=None,
    email: str = "reader@example.org",
    name: str = "Rita Reader",
    postcode: str = "SW1A 1AA",
    lines: list[tuple[str, str, int, int]] | None = None,
    postage_pence: int = 250,
    reference_prefix: str = "KF",
):
    """An order straight in the database (no Stripe), for desk tests that need many of them."""
    from shop.orders.models import Order, OrderLine
    from shop.timeutil import utcnow

    lines = lines or [(ISBN, "Leadership and engagement for improvement in the NHS", 850, 1)]
    subtotal = sum(price * qty for _, _, price, qty in lines)
    created_at = created_at or utcnow()
    order = Order(
        status=status,
        region="uk",
        subtotal_pence=subtotal,
        postage_pence=postage_pence,
        total_pence=subtotal + postage_pence,
        copies=sum(qty for *_, qty in lines),
        customer_email=email,
        customer_name=name,
        ship_name=name,
        ship_line1="1 Test Street",
        ship_city="London",
        ship_postal_code=postcode,
        ship_country="GB",
        created_at=created_at,
        paid_at=created_at if status != "pending_payment" else None,
        amount_charged_pence=subtotal + postage_pence if status != "pending_payment" else None,
        currency_charged="gbp",
        lines=[OrderLine(isbn=i, title=t, unit_price_pence=p, quantity=q) for i, t, p, q in lines],
    )
    _db.session.add(order)
    _db.session.flush()
    order.reference = f"{reference_prefix}-{created_at.year}-{order.id:06d}"
    _db.session.commit()
    return order


def paid_order_through_stripe(client: FlaskClient, sandbox: Sandbox, quantity: int = 2):
    """A real order: basket, checkout on the sandbox, payment, webhook. Returns the order."""
    from shop.orders.models import Order

    shopper = Shopper(client)
    session_id = start_checkout(shopper, sandbox, quantity=quantity)
    [event_id] = pay(sandbox, session_id)
    assert deliver_event(client, sandbox, event_id).status_code == 200
    _db.session.expire_all()
    return _db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))


def cancel_link(sandbox: Sandbox) -> str:
    """The path of the "back" link the shop gave Stripe for the latest checkout."""
    from urllib.parse import urlsplit

    url = urlsplit(sandbox.requests_to("/v1/checkout/sessions")[-1]["params"]["cancel_url"])
    return f"{url.path}?{url.query}"


def desk_refund_form(staff_client: FlaskClient, order, amount: str | None, reason: str = "damaged",
                     note: str = "") -> dict:
    """The fields of the desk's refund confirmation (step two of two): what the final POST sends.
    ``amount`` in pounds, or None for a full refund."""
    import re

    url = f"/staff/orders/{order.reference}/refund"
    page = staff_client.get(url).get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "request_token": re.search(r'name="request_token" type="hidden" value="([0-9a-f]+)"', page).group(1),
        "choice": "part" if amount else "full",
        "amount": amount or "",
        "reason": reason,
        "note": note,
    }
    checked = staff_client.post(url + "/check", data=data).get_data(as_text=True)
    assert f'action="{url}"' in checked, checked
    form = checked[checked.index(f'action="{url}"'):]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'name="([a-z_]+)" (?:type="hidden" )?value="([^"]*)"', form))


def refund_at_the_desk(staff_client: FlaskClient, order, amount: str | None, reason: str = "damaged",
                       note: str = ""):
    """The desk's two-step refund: choose, then confirm. Returns the confirmation's response."""
    fields = desk_refund_form(staff_client, order, amount, reason, note)
    return staff_client.post(f"/staff/orders/{order.reference}/refund", data=fields)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items) -> None:
    """The order pytest-xdist hands out files in (make test passes --no-loadscope-reorder):
    first the files marked ``waits``, whose tests wait on servers and terminals they start, so
    that waiting overlaps other files' work instead of ending the run with workers idle; then
    the files with the most tests, as xdist would order them itself. Within a file the order
    (random, with pytest-randomly: trylast runs this after its shuffle) is kept."""
    tests_in = Counter(item.path for item in items)
    items.sort(key=lambda item: (item.get_closest_marker("waits") is None, -tests_in[item.path], item.path))
