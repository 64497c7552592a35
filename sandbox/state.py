"""In-memory, thread-safe store and domain operations of the Stripe sandbox.

Objects are plain JSON-able dicts in the shape of Stripe API version ``2026-10-28.endive``.
Every public method takes ``SandboxState.lock`` (re-entrant) and returns deep copies, so
callers may serialise or mutate results freely. Webhook delivery runs in daemon threads
and never holds the lock while talking HTTP, so a receiver may call back into the sandbox.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from .signing import sign_payload

Obj = dict[str, Any]

API_VERSION = "2026-10-28.endive"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
#: Pauses between webhook delivery attempts (so at most len + 1 attempts).
RETRY_BACKOFF = (0.2, 0.5, 1.0)
WEBHOOK_TIMEOUT = 10.0
DEFAULT_ADDRESS: Obj = {
    "city": "London", "country": "GB", "line1": "1 Test Street", "line2": None,
    "postal_code": "SW1A 1AA", "state": None,
}
KINDS = ("checkout.session", "payment_intent", "charge", "refund", "shipping_rate", "event")
# Name of the path parameter Stripe reports in a retrieve 404, per kind.
_NOT_FOUND_PARAM = {"checkout.session": "session", "payment_intent": "intent", "charge": "charge",
                    "refund": "refund", "shipping_rate": "shipping_rate_token", "event": "id"}
_PREFIX_KIND = {"cs_": "checkout.session", "pi_": "payment_intent", "ch_": "charge", "re_": "refund",
                "shr_": "shipping_rate", "evt_": "event"}
_SYMBOLS = {"gbp": "£", "usd": "$", "eur": "€"}
_ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                 "vnd", "vuv", "xaf", "xof", "xpf"}
_ALPHANUM = string.ascii_letters + string.digits
# Loopback receivers must never be reached through an environment-configured proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

log = logging.getLogger(__name__)


def now() -> int:
    return int(time.time())


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking id: ``prefix`` + ``length`` random alphanumerics."""
    return prefix + "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def format_money(amount: int, currency: str) -> str:
    """``format_money(1250, "gbp") == "£12.50"``; unknown currencies get their code appended."""
    cur = currency.lower()
    value = str(amount) if cur in _ZERO_DECIMAL else f"{amount // 100}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(cur)
    return f"{symbol}{value}" if symbol else f"{value} {cur.upper()}"


class SandboxError(Exception):
    """A Stripe-shaped error: HTTP ``status`` and the fields of ``{"error": {...}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        fields = {"code": code, "param": param, **extra}
        self.error: Obj = {"type": type, "message": message,
                           **{k: v for k, v in fields.items() if v is not None}}

    def body(self) -> Obj:
        return {"error": self.error}


def check_card(number: str | None) -> None:
    """Accept the 4242 test card; raise a 402 ``card_error`` like Stripe for anything else."""
    digits = re.sub(r"[\s-]", "", number or "")
    if digits == CARD_OK:
        return
    if digits == CARD_DECLINED:
        raise SandboxError(402, "Your card was declined.", type="card_error", code="card_declined",
                           decline_code="generic_decline")
    raise SandboxError(402, "Your card number is incorrect.", type="card_error",
                       code="incorrect_number", param="number")


@dataclass
class Config:
    """Where and whether events are delivered."""

    webhook_url: str | None = None
    webhook_secret: str | None = None
    deliver_webhooks: bool = True


@dataclass
class FailureRule:
    """The next ``count`` /v1 requests whose path starts with ``path_prefix`` sleep ``delay``
    seconds and then fail with ``status`` and ``error`` (Stripe's error fields). A 2xx
    ``status`` means "only delay, then answer normally" (a slow, not a failing, Stripe)."""

    count: int
    status: int = 500
    error: Obj | None = None
    delay: float = 0.0
    path_prefix: str = "/v1"
    method: str | None = None  # only requests with this HTTP method, e.g. "GET"

    def error_body(self) -> Obj:
        defaults: Obj
        if self.status >= 500:
            defaults = {"type": "api_error", "message": "Sandbox: injected server error."}
        elif self.status == 402:
            defaults = {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
        elif self.status == 429:
            defaults = {"type": "invalid_request_error", "code": "rate_limit",
                        "message": "Sandbox: injected rate limit. Please retry later."}
        elif self.status == 401:
            defaults = {"type": "authentication_error", "message": "Sandbox: injected authentication error."}
        elif self.status == 409:
            defaults = {"type": "invalid_request_error", "code": "lock_timeout",
                        "message": "Sandbox: injected lock timeout."}
        else:
            defaults = {"type": "invalid_request_error", "message": "Sandbox: injected error."}
        return {"error": {**defaults, **(self.error or {})}}


class SandboxState:
    """All sandbox data behind one re-entrant lock (``lock``; also used by the app to make
    idempotent requests atomic)."""

    def __init__(self, webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
        self.lock = threading.RLock()
        self.config = Config(webhook_url, webhook_secret)
        self.reset()

    def reset(self) -> None:
        """Forget every object, event, request, idempotency record and failure rule; keep config."""
        with self.lock:
            self.objects: dict[str, dict[str, Obj]] = {kind: {} for kind in KINDS}
            self.line_items: dict[str, list[Obj]] = {}
            self.pi_data: dict[str, Obj] = {}  # session id -> payment_intent_data params
            self.payloads: dict[str, str] = {}  # event id -> exact JSON delivered
            self.attempts: dict[str, list[Obj]] = {}  # event id -> delivery attempts
            self.idempotency: dict[tuple[str, str], Obj] = {}
            self.requests: list[Obj] = []
            self.failure: FailureRule | None = None

    # -- config, failures, request log ---------------------------------------------------

    def configure(self, **changes: Any) -> Obj:
        """Update any of ``webhook_url``, ``webhook_secret``, ``deliver_webhooks``; return config."""
        with self.lock:
            for key, value in changes.items():
                if key not in Config.__dataclass_fields__:
                    raise SandboxError(400, f"Unknown config key: {key}", param=key)
                setattr(self.config, key, value)
            return asdict(self.config)

    def set_failure(self, rule: FailureRule | None) -> None:
        with self.lock:
            self.failure = rule if rule and rule.count > 0 else None

    def take_failure(self, path: str, method: str = "GET") -> FailureRule | None:
        """Consume one injected failure matching ``path`` (and ``method``, if the rule names one)."""
        with self.lock:
            rule = self.failure
            if rule is None or not path.startswith(rule.path_prefix):
                return None
            if rule.method and rule.method.upper() != method.upper():
                return None
            rule.count -= 1
            if rule.count <= 0:
                self.failure = None
            return copy.copy(rule)

    def log_request(self, entry: Obj) -> None:
        with self.lock:
            self.requests.append(entry)

    # -- generic object access -----------------------------------------------------------

    def _get(self, kind: str, oid: str, param: str | None = None) -> Obj:
        obj = self.objects[kind].get(oid)
        if obj is None:
            raise SandboxError(404, f"No such {kind}: '{oid}'", code="resource_missing",
                               param=param or _NOT_FOUND_PARAM[kind])
        if kind == "checkout.session" and obj["status"] == "open" and obj["expires_at"] <= now():
            self._expire(obj)  # lazily, so reads never show an overdue open session
        return obj

    def get(self, kind: str, oid: str) -> Obj:
        """Snapshot of one object; 404 ``SandboxError`` if unknown."""
        with self.lock:
            return copy.deepcopy(self._get(kind, oid))

    def lookup(self, oid: str) -> Obj | None:
        """Snapshot of the object with this id (kind inferred from its prefix), or None."""
        kind = next((k for p, k in _PREFIX_KIND.items() if oid.startswith(p)), None)
        try:
            return self.get(kind, oid) if kind else None
        except SandboxError:
            return None

    def all(self, kind: str) -> list[Obj]:
        """Snapshots of every object of ``kind``, newest first."""
        with self.lock:
            return [copy.deepcopy(self._get(kind, oid)) for oid in reversed(list(self.objects[kind]))]

    # -- checkout sessions ---------------------------------------------------------------

    def add_session(self, session: Obj, line_items: list[Obj], shipping_rates: list[Obj],
                    payment_intent_data: Obj) -> Obj:
        """Store a freshly built session with its line items, shipping rates and the
        ``payment_intent_data`` to apply to its PaymentIntent."""
        with self.lock:
            self.objects["checkout.session"][session["id"]] = session
            self.line_items[session["id"]] = line_items
            self.pi_data[session["id"]] = payment_intent_data
            for rate in shipping_rates:
                self.objects["shipping_rate"][rate["id"]] = rate
            return copy.deepcopy(session)

    def session_line_items(self, sid: str) -> list[Obj]:
        with self.lock:
            self._get("checkout.session", sid)
            return copy.deepcopy(self.line_items[sid])

    def _expire(self, session: Obj) -> str:
        session.update(status="expired", url=None)
        return self.emit("checkout.session.expired", session)

    def expire_session(self, sid: str) -> tuple[Obj, list[str]]:
        """Expire an open session now; 400 if it is not open."""
        with self.lock:
            session = self._get("checkout.session", sid)
            if session["status"] != "open":
                raise SandboxError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.',
                                   param="session")
            event_id = self._expire(session)
            return copy.deepcopy(session), [event_id]

    def expire_due_sessions(self) -> int:
        """Expire every open session past ``expires_at``; return how many (sweeper hook)."""
        with self.lock:
            due = [s for s in self.objects["checkout.session"].values()
                   if s["status"] == "open" and s["expires_at"] <= now()]
            for session in due:
                self._expire(session)
            return len(due)

    def complete_session(self, sid: str, *, card: str = CARD_OK, email: str | None = None,
                         name: str | None = None, address: Obj | None = None,
                         amount_total: int | None = None, currency: str | None = None,
                         async_payment: bool = False) -> tuple[Obj, list[str]]:
        """Pay an open session as the hosted page does; return (session, emitted event ids).

        Creates a PaymentIntent and Charge (``processing``/``pending`` when ``async_payment``,
        leaving ``payment_status`` unpaid), fills ``customer_details`` and, when the session
        collects shipping, ``collected_information.shipping_details``. ``amount_total`` and
        ``currency`` override what is charged (to simulate a mismatch). Raises 404 for an
        unknown session, 400 if it is not open, 402 for a declined or incorrect card (the
        session then stays open).
        """
        with self.lock:
            session = self._get("checkout.session", sid)
            if session["status"] != "open":
                raise SandboxError(400, f"This Checkout Session is {session['status']} and can no longer be paid.",
                                   param="session")
            check_card(card)
            amount = session["amount_total"] if amount_total is None else int(amount_total)
            cur = (currency or session["currency"]).lower()
            collects_shipping = session["shipping_address_collection"] is not None
            allowed = (session["shipping_address_collection"] or {}).get("allowed_countries") or ["GB"]
            addr = {**DEFAULT_ADDRESS, "country": allowed[0], **(address or {})}
            email = email or session["customer_email"] or "customer@example.com"
            name = name or "Sandbox Customer"
            extra = self.pi_data.get(sid, {})
            shipping = ({"address": dict(addr), "carrier": None, "name": name, "phone": None,
                         "tracking_number": None} if collects_shipping else None)
            pi_id, charge_id, ts = new_id("pi_"), new_id("ch_"), now()
            self.objects["payment_intent"][pi_id] = {
                "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
                "amount_received": 0 if async_payment else amount, "canceled_at": None,
                "capture_method": "automatic_async", "client_secret": f"{pi_id}_secret_{new_id('')}",
                "confirmation_method": "automatic", "created": ts, "currency": cur, "customer": None,
                "description": extra.get("description"), "last_payment_error": None,
                "latest_charge": charge_id, "livemode": False, "metadata": extra.get("metadata", {}),
                "payment_method": new_id("pm_"), "payment_method_types": ["card"],
                "receipt_email": extra.get("receipt_email"), "shipping": shipping,
                "status": "processing" if async_payment else "succeeded",
            }
            self.objects["charge"][charge_id] = {
                "id": charge_id, "object": "charge", "amount": amount,
                "amount_captured": 0 if async_payment else amount, "amount_refunded": 0,
                "billing_details": {"address": dict(addr), "email": email, "name": name, "phone": None},
                "captured": not async_payment, "created": ts, "currency": cur, "customer": None,
                "description": extra.get("description"), "disputed": False, "failure_code": None,
                "failure_message": None, "livemode": False, "metadata": extra.get("metadata", {}),
                "paid": not async_payment, "payment_intent": pi_id,
                "payment_method_details": {"type": "card", "card": {
                    "brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2034,
                    "funding": "credit", "last4": re.sub(r"\D", "", card)[-4:]}},
                "receipt_email": extra.get("receipt_email"), "refunded": False, "shipping": shipping,
                "status": "pending" if async_payment else "succeeded",
            }
            session.update(
                status="complete", payment_status="unpaid" if async_payment else "paid",
                payment_intent=pi_id, amount_total=amount, currency=cur, url=None,
                customer_details={"address": dict(addr), "business_name": None, "email": email,
                                  "individual_name": None, "name": name, "phone": None,
                                  "tax_exempt": "none", "tax_ids": []},
                collected_information={"business_name": None, "individual_name": None,
                                       "shipping_details": ({"address": dict(addr), "name": name}
                                                            if collects_shipping else None)},
            )
            return copy.deepcopy(session), [self.emit("checkout.session.completed", session)]

    def resolve_async(self, sid: str, succeeded: bool) -> tuple[Obj, list[str]]:
        """Settle a session completed with ``async_payment``: emits
        ``checkout.session.async_payment_succeeded`` (payment_status paid) or ``..._failed``."""
        with self.lock:
            session = self._get("checkout.session", sid)
            pi = self.objects["payment_intent"].get(session["payment_intent"] or "")
            if pi is None or pi["status"] != "processing":
                raise SandboxError(400, "This Checkout Session has no pending asynchronous payment.",
                                   param="session")
            charge = self.objects["charge"][pi["latest_charge"]]
            if succeeded:
                pi.update(status="succeeded", amount_received=pi["amount"])
                charge.update(status="succeeded", paid=True, captured=True, amount_captured=charge["amount"])
                session["payment_status"] = "paid"
            else:
                pi.update(status="requires_payment_method",
                          last_payment_error={"type": "card_error", "message": "The payment failed."})
                charge.update(status="failed", failure_code="payment_failed",
                              failure_message="The payment failed.")
            outcome = "succeeded" if succeeded else "failed"
            return copy.deepcopy(session), [self.emit(f"checkout.session.async_payment_{outcome}", session)]

    # -- refunds --------------------------------------------------------------------------

    def create_refund(self, *, payment_intent: str | None = None, charge: str | None = None,
                      amount: int | None = None, reason: str | None = None,
                      metadata: Obj | None = None) -> Obj:
        """Refund ``amount`` (default: all that is left) of a succeeded charge, found directly
        or as a PaymentIntent's ``latest_charge``. Updates the charge and emits
        ``charge.refunded`` then ``refund.created``. Errors as Stripe: 404 unknown object,
        400 nothing refundable / ``amount_too_large`` / non-positive amount."""
        with self.lock:
            if payment_intent:
                pi = self._get("payment_intent", payment_intent, param="payment_intent")
                target = self.objects["charge"].get(pi["latest_charge"] or "")
            elif charge:
                target = self._get("charge", charge, param="charge")
            else:
                raise SandboxError(400, "One of the following params should be provided for this request: "
                                   "payment_intent or charge.", code="parameter_missing")
            if target is None or target["status"] != "succeeded":
                raise SandboxError(400, f"This PaymentIntent ({payment_intent}) does not have a successful "
                                   "charge to refund.", param="payment_intent" if payment_intent else "charge")
            left = target["amount"] - target["amount_refunded"]
            if left <= 0:
                raise SandboxError(400, f"Charge {target['id']} has already been refunded.",
                                   code="charge_already_refunded")
            value = left if amount is None else amount
            if value <= 0:
                raise SandboxError(400, "Invalid positive integer", code="parameter_invalid_integer",
                                   param="amount")
            if value > left:
                cur = target["currency"]
                raise SandboxError(400, f"Refund amount ({format_money(value, cur)}) is greater than "
                                   f"unrefunded amount on charge ({format_money(left, cur)})",
                                   code="amount_too_large", param="amount")
            refund = {
                "id": new_id("re_"), "object": "refund", "amount": value, "balance_transaction": None,
                "charge": target["id"], "created": now(), "currency": target["currency"],
                "destination_details": None, "metadata": metadata or {},
                "payment_intent": target["payment_intent"], "reason": reason, "receipt_number": None,
                "status": "succeeded",
            }
            self.objects["refund"][refund["id"]] = refund
            target["amount_refunded"] += value
            target["refunded"] = target["amount_refunded"] >= target["amount"]
            self.emit("charge.refunded", target)
            self.emit("refund.created", refund)
            return copy.deepcopy(refund)

    # -- events and webhook delivery -----------------------------------------------------

    def emit(self, type_: str, obj: Obj) -> str:
        """Record an event holding a snapshot of ``obj``; deliver it in the background when
        config allows. Returns the event id."""
        with self.lock:
            event = {
                "id": new_id("evt_"), "object": "event", "api_version": API_VERSION, "created": now(),
                "data": {"object": copy.deepcopy(obj)}, "livemode": False, "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None}, "type": type_,
            }
            eid = event["id"]
            self.objects["event"][eid] = event
            self.payloads[eid] = json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON
            self.attempts[eid] = []
            cfg = self.config
            if cfg.deliver_webhooks and cfg.webhook_url and cfg.webhook_secret:
                threading.Thread(target=self._deliver_with_retries, name=f"webhook-{eid}", daemon=True,
                                 args=(eid, cfg.webhook_url, cfg.webhook_secret)).start()
        log.info("event %s %s", eid, type_)
        return eid

    def events(self) -> list[Obj]:
        """Every event, oldest first, each with ``delivery_attempts``."""
        with self.lock:
            return [{**copy.deepcopy(e), "delivery_attempts": copy.deepcopy(self.attempts[eid])}
                    for eid, e in self.objects["event"].items()]

    def event_detail(self, eid: str) -> Obj:
        """``{event, payload, delivery_attempts}`` for one event (404 if unknown)."""
        with self.lock:
            return {"event": self.get("event", eid), "payload": self.payloads[eid],
                    "delivery_attempts": copy.deepcopy(self.attempts[eid])}

    def deliver(self, eid: str, url: str | None = None) -> Obj:
        """POST the event once more, synchronously, to ``url`` (default: configured URL).
        Returns the recorded attempt ``{at, url, status, error}``."""
        with self.lock:
            self._get("event", eid)
            payload, secret = self.payloads[eid], self.config.webhook_secret
            url = url or self.config.webhook_url
        if not url or not secret:
            raise SandboxError(400, "Configure webhook_secret and a webhook_url (or pass url) first.")
        return self._attempt(eid, payload, url, secret)

    def _attempt(self, eid: str, payload: str, url: str, secret: str) -> Obj:
        attempt: Obj = {"at": time.time(), "url": url, "status": None, "error": None}
        request = urllib.request.Request(url, data=payload.encode("utf-8"), method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        })
        try:
            with _OPENER.open(request, timeout=WEBHOOK_TIMEOUT) as response:
                attempt["status"] = response.status
        except urllib.error.HTTPError as exc:
            attempt["status"] = exc.code
        except OSError as exc:  # URLError, refused connection, timeout
            attempt["error"] = str(exc)
        with self.lock:
            if eid in self.attempts:  # a reset may have happened meanwhile
                self.attempts[eid].append(attempt)
        log.info("webhook %s -> %s: %s", eid, url, attempt["status"] or attempt["error"])
        return attempt

    def _deliver_with_retries(self, eid: str, url: str, secret: str) -> None:
        with self.lock:
            payload = self.payloads.get(eid)
        if payload is None:
            return
        for pause in (*RETRY_BACKOFF, None):
            status = self._attempt(eid, payload, url, secret)["status"]
            if status is not None and 200 <= status < 300:
                return
            if pause is None:
                log.warning("webhook %s: giving up after %d attempts", eid, len(RETRY_BACKOFF) + 1)
                return
            time.sleep(pause)
