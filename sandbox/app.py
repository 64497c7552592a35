"""The sandbox's WSGI app: a Stripe-compatible ``/v1`` API, the hosted payment page
``/pay/<id>``, and the test control API ``/_sandbox``. Billing's routes (customers, invoices,
coupons, promotion codes, the hosted invoice page) are added by ``billing_app``.

Every ``/v1`` request is checked as Stripe would: its API key, its ``Stripe-Version``, its
parameters against the pinned stripe-python's types (``conformance``; problems are logged with
the request, and refused), then against what the sandbox implements and Stripe's limits
(``params``). Answers are rendered in the request's API version (``versions``)."""

from __future__ import annotations

import functools
import logging
import operator
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Flask, Response, g, redirect, render_template_string, request
from werkzeug.exceptions import HTTPException

from . import conformance
from .billing_app import add_billing_routes
from .page import (
    BACS_HINT,
    CLOSED_TITLES,
    METHOD_LABELS,
    PAGE,
    SECRET_FIELDS,
    check_form,
    country_name,
)
from .params import (
    ENDPOINT_CREATE,
    ENDPOINT_UPDATE,
    EXPAND_ONLY,
    NOTHING,
    PAGE_ONLY,
    REFUND_CREATE,
    REFUND_LIST,
    SESSION_LIST,
    ParamError,
    boolean,
    build_session,
    check_known,
    check_metadata,
    integer,
    one_of,
    parse_params,
    required,
    url,
)
from .state import (
    API_VERSION,
    CARD_OK,
    FailureRule,
    Obj,
    SandboxError,
    SandboxState,
    format_money,
    new_id,
)
from .versions import is_known, render

log = logging.getLogger(__name__)

_COLLECTIONS = {"payment_intents": "payment_intent", "charges": "charge", "refunds": "refund",
                "shipping_rates": "shipping_rate", "customers": "customer", "invoices": "invoice",
                "invoiceitems": "invoiceitem", "invoice_payments": "invoice_payment", "coupons": "coupon",
                "promotion_codes": "promotion_code"}
_CREATED_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_CONTROL_COMPLETE = ("card", "email", "name", "address", "amount_total", "currency", "payment_method",
                     "sort_code", "account_number", "promotion_code")


# -- lists and expansion ---------------------------------------------------------------

# Stripe's Idempotency-Key: at most 255 characters, remembered for 24 hours.
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_KEY_HOURS = 24

def paginate(items: list[Obj], p: Obj, url: str, kind: str,
             keep: Callable[[Obj], bool] = lambda _: True) -> Obj:
    """A Stripe list object over ``items`` (in list order) filtered by ``keep``, honouring
    ``limit`` (1..100, default 10), ``starting_after`` and ``ending_before``. Cursors are
    located among all items, so a cursor outside the filter still works like Stripe's."""
    limit = integer(p.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise ParamError("This value must be less than or equal to 100.", param="limit")
    after, before = p.get("starting_after"), p.get("ending_before")
    if after and before:
        raise ParamError("You may only specify one of these parameters: ending_before, starting_after.")
    ids = [item["id"] for item in items]
    for param, cursor in (("starting_after", after), ("ending_before", before)):
        if cursor and cursor not in ids:
            raise SandboxError(404, f"No such {kind}: '{cursor}'", code="resource_missing", param=param)
    if before:
        pool = [o for o in items[:ids.index(before)] if keep(o)]
        page = pool[-limit:]
    else:
        pool = [o for o in items[ids.index(after) + 1 if after else 0:] if keep(o)]
        page = pool[:limit]
    return {"object": "list", "data": page, "has_more": len(pool) > limit, "url": url}


def expand(state: SandboxState, obj: Obj, paths: list[str]) -> Obj:
    """Replace id fields named by dotted ``paths`` with their objects, as Stripe's
    ``expand[]`` (``line_items`` on sessions, ``data.`` prefixes on lists)."""
    for path in paths:
        _expand(state, obj, path.split("."), path)
    return obj


def _expand(state: SandboxState, node: Obj, parts: list[str], path: str) -> Obj:
    head, rest = parts[0], parts[1:]
    if node.get("object") == "list" and head == "data":
        for item in node["data"]:
            if rest:
                _expand(state, item, rest, path)
        return node
    kind = node.get("object")
    if head == "line_items" and kind == "checkout.session":
        value: Any = {"object": "list", "data": state.session_line_items(node["id"]), "has_more": False,
                      "url": f"/v1/checkout/sessions/{node['id']}/line_items"}
    elif head == "payments" and kind == "invoice":  # includable: present only when asked for
        value = state.invoice_payments(node)
    elif head == "amount_paid_off_stripe" and kind == "invoice":
        value = node.get("_paid_off_stripe", 0)
    elif head in node and isinstance(node[head], list):  # each item of a list (discounts[])
        node[head] = [_expand_value(state, item, rest, path) for item in node[head]]
        return node
    elif head in node:
        value = _expand_value(state, node[head], [], path)
    else:
        raise ParamError(f"This property cannot be expanded ({path}).", param="expand")
    node[head] = _expand(state, value, rest, path) if rest and isinstance(value, dict) else value
    return node


def _expand_value(state: SandboxState, value: Any, rest: list[str], path: str) -> Any:
    """An id becomes its object; an object (a list's item) is expanded further along ``rest``."""
    if isinstance(value, str):
        found = state.lookup(value)
        if found is None:
            raise ParamError(f"This property cannot be expanded ({path}).", param="expand")
        value = found
    if rest and isinstance(value, dict):
        return _expand(state, value, rest, path)
    return value


# -- the app ---------------------------------------------------------------------------

def create_sandbox_app(state: SandboxState) -> Flask:
    """Build the WSGI app serving ``state``. See the package docstring for the routes."""
    app = Flask(__name__)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True  # tidy page HTML

    def render_page(status: int, *, session: Obj | None = None, title: str, message: str | None = None,
                    errors: dict[str, str] | None = None, values: Any = None,
                    back: str | None = None) -> tuple[str, int]:
        countries: list[str] = []
        if session:
            countries = ((session["shipping_address_collection"] or {}).get("allowed_countries")
                         or ["GB", "IE", "US"])
        html = render_template_string(
            PAGE, session=session, title=title, message=message, errors=errors or {},
            values={k: v for k, v in (values or {}).items() if k not in SECRET_FIELDS},
            items=state.session_line_items(session["id"]) if session else [],
            rate=state.lookup(session["shipping_cost"]["shipping_rate"]) if session and session["shipping_cost"] else None,
            countries=countries, country_name=country_name, method_labels=METHOD_LABELS, bacs_hint=BACS_HINT,
            cancel_url=session["cancel_url"] if session else back,
            money=lambda amount: format_money(amount, session["currency"]) if session else "")
        return html, status

    def reply(obj: Obj, status: int = 200) -> Response:
        """A /v1 answer, rendered in the request's API version."""
        response = app.json.response(render(obj, g.version))
        response.status_code = status
        return response

    def error_response(body: Obj, status: int, should_retry: bool | None = None) -> Response:
        response = app.json.response(body)
        response.status_code = status
        if should_retry is not None:
            response.headers["Stripe-Should-Retry"] = "true" if should_retry else "false"
        return response

    def run(view: Callable[..., Response], kwargs: Obj) -> Response:
        """Execute a POST: an injected ``during`` failure, or the view. A ``ParamError``
        propagates (nothing ran, so nothing is stored); any other refusal is an answer."""
        rule: FailureRule | None = g.pop("fail_during", None)
        if rule is not None and rule.stage == "after":
            g.answer_lost = rule  # done, kept and stored under its key; the caller gets the error
            return view(**kwargs)
        if rule is not None:
            time.sleep(rule.delay)  # running: a repeat of its idempotency key now meets a 409
            if not 200 <= rule.status < 300:
                g.injected = True
                return error_response(rule.error_body(), rule.status, should_retry=False)
        try:
            return view(**kwargs)
        except ParamError:
            raise
        except SandboxError as exc:
            return error_response(exc.body(), exc.status, should_retry=False if exc.status >= 500 else None)

    def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
        """Stripe's Idempotency-Key semantics for a POST view. The first request that runs
        stores its answer, whatever it was (a 2xx, a refusal, a 500), and a repeat of the key
        (per API key) gets it back with ``Idempotent-Replayed: true`` (errors with
        ``Stripe-Should-Retry: false``: retrying would only replay them). Requests refused
        while their parameters were checked store nothing. The same key with other
        parameters, or on another endpoint, is a 400 ``idempotency_error``; while a request
        with the key is still running, another is a 409 the SDK should retry."""
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            response = keyed(**kwargs)
            lost: FailureRule | None = g.pop("answer_lost", None)
            if lost is None:
                return response
            time.sleep(lost.delay)
            g.injected = True
            return error_response(lost.error_body(), lost.status)

        def keyed(**kwargs: Any) -> Response:
            key = request.headers.get("Idempotency-Key")
            if not key:
                return run(view, kwargs)
            if len(key) > IDEMPOTENCY_KEY_MAX:
                raise SandboxError(400, f"Invalid Idempotency-Key: must be at most {IDEMPOTENCY_KEY_MAX} "
                                   "characters long.", type="invalid_request_error")
            slot, endpoint = (g.api_key, key), f"{request.method} {request.path}"
            with state.lock:
                record = state.idempotency.get(slot)
                if record is not None and time.time() - record["at"] > IDEMPOTENCY_KEY_HOURS * 3600:
                    del state.idempotency[slot]  # Stripe forgets a key after 24 hours
                    record = None
                if record is None and slot in state.in_flight:
                    g.conflict = True
                    raise SandboxError(409, "There is currently another in-progress request using this "
                                       f"idempotency key ('{key}'). Wait for it to finish, then retry.",
                                       type="idempotency_error", code="idempotency_key_in_use")
                if record is None:
                    state.in_flight.add(slot)
            if record is not None:
                if record["endpoint"] != endpoint:
                    raise SandboxError(400, "Keys for idempotent requests can only be used for the same endpoint "
                                       f"they were first used for ('{record['endpoint']}' vs '{endpoint}'). Try "
                                       f"using a key other than '{key}' if you meant to execute a different "
                                       "request.", type="idempotency_error")
                if record["params"] != g.params:
                    raise SandboxError(400, "Keys for idempotent requests can only be used with the same "
                                       f"parameters they were first used with. Try using a key other than "
                                       f"'{key}' if you meant to execute a different request.",
                                       type="idempotency_error")
                g.replayed = True
                response = Response(record["body"], record["status"], mimetype="application/json")
                response.headers["Idempotent-Replayed"] = "true"
                if record["status"] >= 400:
                    response.headers["Stripe-Should-Retry"] = "false"
                return response
            try:
                response = run(view, kwargs)
                with state.lock:
                    state.idempotency[slot] = {"endpoint": endpoint, "params": g.params, "at": time.time(),
                                               "status": response.status_code, "body": response.get_data()}
                return response
            finally:
                with state.lock:
                    state.in_flight.discard(slot)
        return wrapper

    @app.before_request
    def v1_gate() -> Response | None:
        """For /v1: parse params and check them against Stripe's types (logged either way),
        apply injected failures, authenticate, check the API version, then refuse what Stripe
        would refuse."""
        if not request.path.startswith("/v1/"):
            return None
        g.params = parse_params((request.form if request.method == "POST" else request.args).items(multi=True))
        g.problems = conformance.check_request(request.method, request.path, g.params)
        g.version = state.config.api_version
        rule = state.take_failure(request.path, request.method)
        if rule and rule.stage in ("during", "after") and request.method == "POST":
            g.fail_during = rule  # the endpoint starts, then is slow or fails: see run()
        elif rule:
            time.sleep(rule.delay)
            if not 200 <= rule.status < 300:
                g.injected = True
                should_retry = True if rule.status == 409 else None
                return error_response(rule.error_body(), rule.status, should_retry)
        auth = request.authorization
        key = (auth.username if auth.type == "basic" else auth.token) if auth else None
        if not key:
            raise SandboxError(401, "You did not provide an API key. You need to provide your API key in the "
                               "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                               "YOUR_SECRET_KEY').", type="authentication_error")
        if not key.startswith("sk_test_"):
            masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            raise SandboxError(401, f"Invalid API Key provided: {masked}. This Stripe sandbox only accepts "
                               "test-mode secret keys (sk_test_...).", type="authentication_error")
        g.api_key = key
        version = request.headers.get("Stripe-Version")
        if version is not None:
            if not is_known(version):
                raise SandboxError(400, f"Invalid Stripe API version: {version}", code="api_version_invalid")
            g.version = version
        if g.problems:
            first = g.problems[0]
            raise ParamError(first.message, param=first.param or None, code=first.code)
        return None

    @app.after_request
    def v1_log(response: Response) -> Response:
        if request.path.startswith("/v1/"):
            response.headers["Request-Id"] = new_id("req_", 14)
            response.headers["Stripe-Version"] = g.get("version") or API_VERSION
            state.log_request({
                "at": time.time(), "method": request.method, "path": request.path, "params": g.get("params"),
                "idempotency_key": request.headers.get("Idempotency-Key"),
                "stripe_version": request.headers.get("Stripe-Version"), "status": response.status_code,
                "replayed": g.get("replayed", False), "injected": g.get("injected", False),
                "should_retry": response.headers.get("Stripe-Should-Retry"),
                "problems": [asdict(problem) for problem in g.get("problems", [])]})
        return response

    @app.errorhandler(SandboxError)
    def sandbox_error(exc: SandboxError) -> Response:
        return error_response(exc.body(), exc.status, should_retry=True if g.get("conflict") else None)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not request.path.startswith(("/v1/", "/_sandbox/")):
            return exc
        message = (f"Unrecognized request URL ({request.method}: {request.path})."
                   if exc.code in (404, 405) else exc.description)
        return app.json.response({"error": {"type": "invalid_request_error", "message": message}}), exc.code

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> tuple[Response, int]:
        log.exception("sandbox bug on %s %s", request.method, request.path)
        return app.json.response({"error": {"type": "api_error", "message": f"Sandbox internal error: {exc!r}"}}), 500

    # -- /v1: checkout sessions ------------------------------------------------------------

    @app.post("/v1/checkout/sessions")
    @idempotent
    def create_session() -> Response:
        session, items, rates, pi_data = build_session(g.params, request.host_url.rstrip("/"),
                                                       state.config.payment_methods)
        return reply(expand(state, state.add_session(session, items, rates, pi_data), g.params.get("expand", [])))

    @app.get("/v1/checkout/sessions")
    def list_sessions() -> Response:
        p = g.params
        check_known(p, SESSION_LIST)
        created = p.get("created")
        bounds: dict[str, int] = {}
        if isinstance(created, dict):
            check_known(created, dict.fromkeys(_CREATED_OPS), "created")
            bounds = {op: integer(v, f"created[{op}]") for op, v in created.items()}
        elif created is not None:
            bounds = {"eq": integer(created, "created")}

        def keep(s: Obj) -> bool:
            return ((p.get("status") is None or s["status"] == p["status"])
                    and (p.get("payment_intent") is None or s["payment_intent"] == p["payment_intent"])
                    and (created is None or all(_CREATED_OPS.get(op, operator.eq)(s["created"], bound)
                                                for op, bound in bounds.items())))

        page = paginate(state.all("checkout.session"), p, "/v1/checkout/sessions", "checkout.session", keep)
        return reply(expand(state, page, p.get("expand", [])))

    @app.get("/v1/checkout/sessions/<sid>")
    def retrieve_session(sid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return reply(expand(state, state.get("checkout.session", sid), g.params.get("expand", [])))

    @app.get("/v1/checkout/sessions/<sid>/line_items")
    def session_line_items(sid: str) -> Response:
        check_known(g.params, PAGE_ONLY)
        return reply(paginate(state.session_line_items(sid), g.params, f"/v1/checkout/sessions/{sid}/line_items",
                              "item"))

    @app.post("/v1/checkout/sessions/<sid>/expire")
    @idempotent
    def expire_session(sid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return reply(expand(state, state.expire_session(sid)[0], g.params.get("expand", [])))

    # -- /v1: payments, refunds, events ---------------------------------------------------

    @app.get(f"/v1/<any({', '.join(_COLLECTIONS)}):collection>/<oid>")
    def retrieve_object(collection: str, oid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return reply(expand(state, state.get(_COLLECTIONS[collection], oid), g.params.get("expand", [])))

    @app.get("/v1/events/<eid>")
    def retrieve_event(eid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return app.json.response(state.event(eid))  # in the version it was created in, as Stripe

    @app.get("/v1/refunds")
    def list_refunds() -> Response:
        p = g.params
        check_known(p, REFUND_LIST)

        def keep(r: Obj) -> bool:
            return ((p.get("payment_intent") is None or r["payment_intent"] == p["payment_intent"])
                    and (p.get("charge") is None or r["charge"] == p["charge"]))

        return reply(expand(state, paginate(state.all("refund"), p, "/v1/refunds", "refund", keep),
                            p.get("expand", [])))

    @app.post("/v1/refunds")
    @idempotent
    def create_refund() -> Response:
        p = g.params
        check_known(p, REFUND_CREATE)
        check_metadata(p)
        amount = integer(p["amount"], "amount") if p.get("amount") is not None else None
        reason = one_of(p, "reason", ("duplicate", "fraudulent", "requested_by_customer"))
        refund = state.create_refund(payment_intent=p.get("payment_intent"), charge=p.get("charge"),
                                     amount=amount, reason=reason, metadata=p.get("metadata") or None)
        return reply(expand(state, refund, p.get("expand", [])))

    # -- /v1: webhook endpoints -------------------------------------------------------------

    @app.post("/v1/webhook_endpoints")
    @idempotent
    def create_endpoint() -> Response:
        p = g.params
        check_known(p, ENDPOINT_CREATE)
        check_metadata(p)
        if p.get("connect") is not None and boolean(p["connect"], "connect"):
            raise ParamError("The Stripe sandbox has no connected accounts: connect must be false.", param="connect")
        endpoint = state.create_endpoint(
            url=url(p, "url", is_required=True) or "", enabled_events=required(p, "enabled_events", "enabled_events"),
            api_version=p.get("api_version"), description=p.get("description"), metadata=p.get("metadata") or None)
        return reply(endpoint)

    @app.get("/v1/webhook_endpoints")
    def list_endpoints() -> Response:
        check_known(g.params, PAGE_ONLY)
        return reply(paginate(state.all("webhook_endpoint"), g.params, "/v1/webhook_endpoints", "webhook_endpoint"))

    @app.get("/v1/webhook_endpoints/<eid>")
    def retrieve_endpoint(eid: str) -> Response:
        check_known(g.params, EXPAND_ONLY)
        return reply(state.get("webhook_endpoint", eid))

    @app.post("/v1/webhook_endpoints/<eid>")
    @idempotent
    def update_endpoint(eid: str) -> Response:
        p = g.params
        check_known(p, ENDPOINT_UPDATE)
        check_metadata(p)
        changes: Obj = {key: p[key] for key in ("enabled_events", "description", "metadata") if key in p}
        if "url" in p:
            changes["url"] = url(p, "url", is_required=True)
        if "disabled" in p:
            changes["disabled"] = boolean(p["disabled"], "disabled")
        return reply(state.update_endpoint(eid, changes))

    @app.delete("/v1/webhook_endpoints/<eid>")
    def delete_endpoint(eid: str) -> Response:
        check_known(g.params, NOTHING)
        return reply(state.delete_endpoint(eid))

    # -- hosted payment page --------------------------------------------------------------

    @app.route("/pay/<sid>", methods=["GET", "POST"])
    def pay(sid: str) -> Any:
        try:
            session = state.get("checkout.session", sid)
        except SandboxError:
            return render_page(404, title="Checkout session not found")
        if session["status"] != "open":
            return render_page(410, title=CLOSED_TITLES[session["status"]], back=session["cancel_url"])
        title = f"Pay {format_money(session['amount_total'], session['currency'])}"
        if request.method == "GET":
            values = {"email": session["customer_email"] or ""}
            return render_page(200, session=session, title=title, values=values)
        form = request.form
        countries = (session["shipping_address_collection"] or {}).get("allowed_countries") or ["GB", "IE", "US"]
        methods = session["payment_method_types"]
        errors = check_form(form, countries, methods)
        if errors:
            return render_page(400, session=session, title=title, errors=errors, values=form)
        address = {"line1": form["line1"].strip(), "line2": form.get("line2", "").strip() or None,
                   "city": form["city"].strip(), "postal_code": form["postal_code"].strip(),
                   "state": None, "country": form["country"]}
        try:
            state.complete_session(sid, payment_method=form.get("payment_method") or methods[0],
                                   card=form.get("card_number", ""), sort_code=form.get("sort_code", ""),
                                   account_number=form.get("account_number", ""), email=form["email"].strip(),
                                   name=form["name"].strip(), address=address,
                                   promotion_code=form.get("promotion_code", "").strip() or None)
        except SandboxError as exc:
            fields = ("number", "sort_code", "account_number", "promotion_code")
            if exc.status in (400, 402) and exc.error.get("param") in fields:
                field = "card_number" if exc.error["param"] == "number" else exc.error["param"]
                return render_page(exc.status, session=session, title=title, errors={field: str(exc)}, values=form)
            if exc.status == 402:  # a decline belongs to the page
                return render_page(402, session=session, title=title, message=str(exc), values=form)
            return render_page(410, title=str(exc), back=session["cancel_url"])  # expired/paid meanwhile
        return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid), 303)

    def body(*allowed: str) -> Obj:
        """A control request's JSON object, refused when it has a field not in ``allowed``."""
        data = request.get_json(silent=True) if request.get_data() else {}
        if not isinstance(data, dict):
            raise SandboxError(400, "Expected a JSON object body.")
        unknown = set(data) - set(allowed)
        if unknown:
            raise SandboxError(400, f"Unknown field(s): {', '.join(sorted(unknown))}", param=sorted(unknown)[0])
        return data

    add_billing_routes(app, state, reply, idempotent, expand, paginate, body)

    # -- control API ----------------------------------------------------------------------

    @app.route("/_sandbox/config", methods=["GET", "POST"])
    def control_config() -> Obj:
        if request.method == "POST":
            return state.configure(**body(*state.config.__dataclass_fields__))
        return asdict(state.config)

    @app.post("/_sandbox/reset")
    def control_reset() -> Obj:
        state.reset()
        return {"ok": True}

    @app.post("/_sandbox/fail")
    def control_fail() -> Obj:
        data = body("count", "status", "error", "delay", "path_prefix", "method", "stage")
        try:
            rule = FailureRule(count=int(data.get("count", 1)), status=int(data.get("status", 500)),
                               error=data.get("error"), delay=float(data.get("delay", 0)),
                               path_prefix=str(data.get("path_prefix", "/v1")),
                               method=data.get("method"), stage=str(data.get("stage", "before")))
        except (TypeError, ValueError) as exc:
            raise SandboxError(400, f"Invalid failure rule: {exc}") from None
        if rule.stage not in ("before", "during", "after"):
            raise SandboxError(400, "stage: before, during or after", param="stage")
        state.set_failure(rule)
        return {"failure": asdict(rule) if rule.count > 0 else None}

    @app.post("/_sandbox/sessions/<sid>/complete")
    def control_complete(sid: str) -> Obj:
        data = body(*_CONTROL_COMPLETE)
        data.setdefault("card", CARD_OK)
        session, event_ids = state.complete_session(sid, **data)
        return {"session": session, "event_ids": event_ids}

    @app.post("/_sandbox/sessions/<sid>/async")
    def control_async(sid: str) -> Obj:
        data = body("succeeded")
        if data.get("succeeded") is not None and not isinstance(data["succeeded"], bool):
            raise SandboxError(400, "succeeded: true, false, or leave it out (the bank account decides).",
                               param="succeeded")
        session, event_ids = state.resolve_async(sid, data.get("succeeded"))
        return {"session": session, "event_ids": event_ids}

    @app.post("/_sandbox/sessions/<sid>/expire")
    def control_expire(sid: str) -> Obj:
        session, event_ids = state.expire_session(sid)
        return {"session": session, "event_ids": event_ids}

    @app.post("/_sandbox/refunds/<rid>")
    def control_refund(rid: str) -> Obj:
        data = body("status", "failure_reason")
        refund, event_ids = state.settle_refund(rid, str(data.get("status")), data.get("failure_reason"))
        return {"refund": refund, "event_ids": event_ids}

    @app.get("/_sandbox/events")
    def control_events() -> Obj:
        return {"data": state.events()}

    @app.get("/_sandbox/events/<eid>")
    def control_event(eid: str) -> Obj:
        return state.event_detail(eid, request.args.get("api_version"))

    @app.post("/_sandbox/events/<eid>/deliver")
    def control_deliver(eid: str) -> Obj:
        return state.deliver(eid, body("url").get("url"))

    @app.get("/_sandbox/requests")
    def control_requests() -> Obj:
        with state.lock:
            return {"data": list(state.requests)}

    return app
