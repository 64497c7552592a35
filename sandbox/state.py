"""In-memory, thread-safe store and domain operations of the Stripe sandbox.

Objects are plain JSON-able dicts in the shape of the latest API version (``versions.LATEST``,
the pinned stripe-python's); ``versions.render`` turns them into an older version's shape for
answers and events. Every public method takes ``SandboxState.lock`` (re-entrant) and returns
deep copies, so callers may serialise or mutate results freely. Webhook delivery runs in daemon
threads and never holds the lock while talking HTTP, so a receiver may call back into the
sandbox.

Resources live in ``objects[kind]``; a new one adds its kind to ``KINDS`` and ``_PREFIX_KIND``,
its operations here (or in a mixin: ``billing`` holds customers, invoice items, invoices, coupons
and promotion codes), and its routes in ``app``. Keys starting with ``_`` are the sandbox's own
bookkeeping inside an object, never rendered.
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
from dataclasses import asdict, dataclass, field
from typing import Any

from .billing import BillingMixin
from .signing import sign_payload
from .versions import LATEST, is_known, render

Obj = dict[str, Any]

API_VERSION = LATEST
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
# Bacs Direct Debit: the sandbox's test bank accounts (sort code 10-88-00). Payments stay
# processing until they settle: one account's succeed, the other's fail.
BACS_SORT_CODE = "108800"
BACS_OK = "00012345"
BACS_FAILS = "22222227"
#: The payment methods the sandbox can take.
PAYMENT_METHODS = ("card", "bacs_debit")
#: Pauses between webhook delivery attempts (so at most len + 1 attempts).
RETRY_BACKOFF = (0.2, 0.5, 1.0)
WEBHOOK_TIMEOUT = 10.0
DEFAULT_ADDRESS: Obj = {
    "city": "London", "country": "GB", "line1": "1 Test Street", "line2": None,
    "postal_code": "SW1A 1AA", "state": None,
}
KINDS = ("checkout.session", "payment_intent", "charge", "refund", "shipping_rate", "event",
         "webhook_endpoint", "customer", "invoiceitem", "invoice", "invoice_payment", "coupon",
         "promotion_code")
# Name of the path parameter Stripe reports in a retrieve 404, per kind.
_NOT_FOUND_PARAM = {"checkout.session": "session", "payment_intent": "intent", "charge": "charge",
                    "refund": "refund", "shipping_rate": "shipping_rate_token", "event": "id",
                    "webhook_endpoint": "webhook_endpoint", "customer": "customer",
                    "invoiceitem": "invoiceitem", "invoice": "invoice", "invoice_payment": "invoice_payment",
                    "coupon": "coupon", "promotion_code": "promotion_code"}
# Coupons have no prefix (their ids are chosen, like "SPRING25"): ``lookup`` tries them last.
_PREFIX_KIND = {"cs_": "checkout.session", "pi_": "payment_intent", "ch_": "charge", "re_": "refund",
                "shr_": "shipping_rate", "evt_": "event", "we_": "webhook_endpoint", "cus_": "customer",
                "ii_": "invoiceitem", "in_": "invoice", "inpay_": "invoice_payment", "promo_": "promotion_code"}
# Which refund statuses may follow which (a refund that succeeded can still fail later).
_REFUND_MOVES = {"pending": {"succeeded", "failed", "canceled"}, "requires_action": {"canceled", "succeeded"},
                 "succeeded": {"failed"}}
_REFUND_FAILURES = ("lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
                    "insufficient_funds", "declined", "merchant_request", "unknown")
_SYMBOLS = {"gbp": "£", "usd": "$", "eur": "€"}
_ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                 "vnd", "vuv", "xaf", "xof", "xpf"}
_ALPHANUM = string.ascii_letters + string.digits
# Loopback receivers must never be reached through an environment-configured proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: The delivery target set by ``/_sandbox/config`` (as ``stripe listen`` forwards events).
CONFIG_TARGET = "config"

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


def check_bank_account(sort_code: str | None, account_number: str | None) -> tuple[str, str]:
    """The sandbox's Bacs test accounts only; a 400 naming the field for anything else."""
    sort = re.sub(r"[\s-]", "", sort_code or "")
    account = re.sub(r"\s", "", account_number or "")
    if sort != BACS_SORT_CODE:
        raise SandboxError(400, "Your sort code is incorrect.", code="invalid_bank_account", param="sort_code")
    if account not in (BACS_OK, BACS_FAILS):
        raise SandboxError(400, "Your account number is incorrect.", code="invalid_bank_account",
                           param="account_number")
    return sort, account


@dataclass
class Config:
    """The account's settings and where events go besides its webhook endpoints."""

    # The forwarding target, as `stripe listen --forward-to` (receives every event).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    deliver_webhooks: bool = True
    # The version events reach the forwarding target in: None = each event's own (the account
    # default when it happened), as `stripe listen`; LATEST, as `stripe listen --latest`.
    webhook_api_version: str | None = None
    # The account's default API version: events are created in it, and requests without a
    # Stripe-Version header are answered in it.
    api_version: str = LATEST
    # Payment methods turned on in the account's dashboard.
    payment_methods: list[str] = field(default_factory=lambda: list(PAYMENT_METHODS))
    # Card refunds start pending (as when the balance cannot cover them); Bacs refunds always do.
    pending_refunds: bool = False
    # Seconds after which processing payments and pending refunds settle by themselves (the
    # sweeper); None: only when the control API says so.
    settle_after: float | None = None


@dataclass
class FailureRule:
    """The next ``count`` /v1 requests whose path starts with ``path_prefix`` sleep ``delay``
    seconds and then fail with ``status`` and ``error`` (Stripe's error fields). A 2xx
    ``status`` means "only delay, then answer normally" (a slow, not a failing, Stripe).

    ``stage`` says where it strikes: ``"before"`` the endpoint runs (a load balancer or network
    fault: nothing is stored, a retry runs afresh) or ``"during"`` its run, for POSTs (its
    idempotency key is in use meanwhile; an error is Stripe's rollback, stored under the key, so
    a retry with the same key gets the same error back, with ``Stripe-Should-Retry: false``), or
    ``"after"`` it ran, for POSTs: the work is done and kept, and the answer is lost on the way
    back (a timeout or a proxy's 502 after Stripe acted; nothing is stored under the key)."""

    count: int
    status: int = 500
    error: Obj | None = None
    delay: float = 0.0
    path_prefix: str = "/v1"
    method: str | None = None  # only requests with this HTTP method, e.g. "GET"
    stage: str = "before"

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


@dataclass(frozen=True)
class Target:
    """Where one event goes: an endpoint's URL, its secret and the version it renders in."""

    endpoint: str  # a webhook endpoint id, or CONFIG_TARGET
    url: str
    secret: str
    api_version: str


class SandboxState(BillingMixin):
    """All sandbox data behind one re-entrant lock (``lock``; also used by the app to make
    idempotent requests atomic)."""

    def __init__(self, webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
        self.lock = threading.RLock()
        self.config = Config(webhook_url, webhook_secret)
        # Requests Stripe would refuse; kept across resets until a test harness takes them.
        self.nonconforming: list[Obj] = []
        self.reset()

    def reset(self) -> None:
        """Forget every object, event, request, idempotency record and failure rule; keep config."""
        with self.lock:
            self.objects: dict[str, dict[str, Obj]] = {kind: {} for kind in KINDS}
            self.line_items: dict[str, list[Obj]] = {}
            self.pi_data: dict[str, Obj] = {}  # session id -> payment_intent_data params
            self.endpoint_secrets: dict[str, str] = {}  # webhook endpoint id -> whsec_…
            self.attempts: dict[str, list[Obj]] = {}  # event id -> delivery attempts
            self.idempotency: dict[tuple[str, str], Obj] = {}
            self.in_flight: set[tuple[str, str]] = set()  # idempotency keys being executed
            self.requests: list[Obj] = []
            self.failure: FailureRule | None = None
            # Payment intent id -> whether its bank payment will succeed, and when it settles.
            self.async_outcomes: dict[str, bool] = {}
            self.due: dict[str, float] = {}  # payment intent or refund id -> settle at (epoch)

    # -- config, failures, request log ---------------------------------------------------

    def configure(self, **changes: Any) -> Obj:
        """Update any ``Config`` field; return the config."""
        with self.lock:
            for key, value in changes.items():
                if key not in Config.__dataclass_fields__:
                    raise SandboxError(400, f"Unknown config key: {key}", param=key)
                if key in ("api_version", "webhook_api_version") and value is not None and not is_known(value):
                    raise SandboxError(400, f"Unknown API version: {value}", param=key)
                if key == "api_version" and value is None:
                    raise SandboxError(400, "The account always has an API version.", param=key)
                if key == "payment_methods" and (not isinstance(value, list)
                                                 or not set(value) <= set(PAYMENT_METHODS)):
                    raise SandboxError(400, f"payment_methods: a list of {', '.join(PAYMENT_METHODS)}",
                                       param=key)
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
            if entry.get("problems"):
                self.nonconforming.append(entry)

    def take_nonconforming(self) -> list[Obj]:
        """Requests Stripe would have refused since the last call (survives ``reset``)."""
        with self.lock:
            taken, self.nonconforming = self.nonconforming, []
            return taken

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
        """Snapshot of the object with this id (kind inferred from its prefix, else a coupon),
        or None."""
        kind = next((k for p, k in sorted(_PREFIX_KIND.items(), key=lambda kv: -len(kv[0]))
                     if oid.startswith(p)), "coupon")
        try:
            return self.get(kind, oid)
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

    def complete_session(self, sid: str, *, payment_method: str = "card", card: str = CARD_OK,
                         sort_code: str = BACS_SORT_CODE, account_number: str = BACS_OK,
                         email: str | None = None, name: str | None = None, address: Obj | None = None,
                         amount_total: int | None = None, currency: str | None = None,
                         promotion_code: str | None = None) -> tuple[Obj, list[str]]:
        """Pay an open session as the hosted page does; return (session, emitted event ids).

        ``payment_method`` is one the session offers: ``card`` pays at once; ``bacs_debit``
        leaves the payment ``processing`` (``payment_status`` unpaid) until it settles, as the
        bank account says (``resolve_async``). A session whose total is zero completes with
        ``no_payment_required`` and no PaymentIntent. Fills ``customer_details`` and, when the
        session collects shipping, ``collected_information.shipping_details``. ``amount_total``
        and ``currency`` override what is charged (to simulate a mismatch). ``promotion_code``
        is a code the buyer typed (the session must allow promotion codes): its discount comes
        off the items (``discounts``, ``total_details.amount_discount``). Raises 404 for an
        unknown session, 400 if it is not open, cannot take that method or that code, 402 for a
        declined or incorrect card (the session then stays open).
        """
        with self.lock:
            session = self._get("checkout.session", sid)
            if session["status"] != "open":
                raise SandboxError(400, f"This Checkout Session is {session['status']} and can no longer be paid.",
                                   param="session")
            redeemed = self._apply_promotion_code(session, promotion_code) if promotion_code else None
            amount = session["amount_total"] if amount_total is None else int(amount_total)
            if amount > 0 and payment_method not in session["payment_method_types"]:
                raise SandboxError(400, f"This Checkout Session does not accept {payment_method}.",
                                   param="payment_method")
            bank: tuple[str, str] | None = None
            if amount > 0 and payment_method == "card":
                check_card(card)
            elif amount > 0:
                bank = check_bank_account(sort_code, account_number)
            cur = (currency or session["currency"]).lower()
            collects_shipping = session["shipping_address_collection"] is not None
            allowed = (session["shipping_address_collection"] or {}).get("allowed_countries") or ["GB"]
            addr = {**DEFAULT_ADDRESS, "country": allowed[0], **(address or {})}
            email = email or session["customer_email"] or "customer@example.com"
            name = name or "Sandbox Customer"
            shipping = ({"address": dict(addr), "carrier": None, "name": name, "phone": None,
                         "tracking_number": None} if collects_shipping else None)
            pi_id = None
            if amount > 0:
                pi_id = self._pay(sid, amount, cur, email, name, addr, shipping, card, bank)
            if redeemed is not None:
                self._redeem(*redeemed)
            payment_status = ("no_payment_required" if pi_id is None
                              else "unpaid" if bank else "paid")
            session.update(
                status="complete", payment_status=payment_status,
                payment_intent=pi_id, amount_total=amount, currency=cur, url=None,
                customer_details={"address": dict(addr), "business_name": None, "email": email,
                                  "individual_name": None, "name": name, "phone": None,
                                  "tax_exempt": "none", "tax_ids": []},
                collected_information={"business_name": None, "individual_name": None,
                                       "shipping_details": ({"address": dict(addr), "name": name}
                                                            if collects_shipping else None)},
            )
            return copy.deepcopy(session), [self.emit("checkout.session.completed", session)]

    def _apply_promotion_code(self, session: Obj, code: str) -> tuple[Obj, Obj]:
        """Take a promotion code's discount off an open session's items, as Checkout shows it
        before the buyer pays; returns (promotion code, coupon) to redeem when it is paid."""
        if not session["allow_promotion_codes"]:
            raise SandboxError(400, "This Checkout Session does not accept promotion codes.",
                               param="promotion_code")
        subtotal = session["amount_subtotal"]
        promotion, coupon, off = self._discount_for(code, subtotal, session["currency"])
        shipping = (session["shipping_cost"] or {}).get("amount_total", 0)
        session["discounts"] = [{"coupon": coupon["id"], "promotion_code": promotion["id"]}]
        session["total_details"]["amount_discount"] = off
        session["amount_total"] = subtotal - off + shipping
        items, left = self.line_items[session["id"]], off
        for index, item in enumerate(items):  # spread over the items, the last taking what is left
            share = left if index == len(items) - 1 else off * item["amount_subtotal"] // max(subtotal, 1)
            share = min(share, item["amount_subtotal"], left)
            item.update(amount_discount=share, amount_total=item["amount_subtotal"] - share)
            left -= share
        return promotion, coupon

    def _pay(self, sid: str, amount: int, cur: str, email: str, name: str, addr: Obj,
             shipping: Obj | None, card: str, bank: tuple[str, str] | None) -> str:
        """The PaymentIntent and Charge of a payment: succeeded for a card, processing (and
        pending) for a bank debit. Returns the PaymentIntent's id."""
        extra = self.pi_data.get(sid, {})
        pi_id, charge_id, ts = new_id("pi_"), new_id("ch_"), now()
        if bank:
            method = "bacs_debit"
            details: Obj = {"type": method, method: {
                "fingerprint": new_id(""), "last4": bank[1][-4:], "mandate": new_id("mandate_"),
                "sort_code": bank[0]}}
            self.async_outcomes[pi_id] = bank[1] == BACS_OK
            if self.config.settle_after is not None:
                self.due[pi_id] = time.time() + self.config.settle_after
        else:
            method = "card"
            details = {"type": method, method: {
                "brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2034,
                "funding": "credit", "last4": re.sub(r"\D", "", card)[-4:]}}
        self.objects["payment_intent"][pi_id] = {
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0 if bank else amount, "canceled_at": None,
            "capture_method": "automatic_async", "client_secret": f"{pi_id}_secret_{new_id('')}",
            "confirmation_method": "automatic", "created": ts, "currency": cur, "customer": None,
            "description": extra.get("description"), "last_payment_error": None,
            "latest_charge": charge_id, "livemode": False, "metadata": extra.get("metadata", {}),
            "payment_method": new_id("pm_"), "payment_method_types": [method],
            "receipt_email": extra.get("receipt_email"), "shipping": shipping,
            "status": "processing" if bank else "succeeded",
        }
        self.objects["charge"][charge_id] = {
            "id": charge_id, "object": "charge", "amount": amount,
            "amount_captured": 0 if bank else amount, "amount_refunded": 0,
            "billing_details": {"address": dict(addr), "email": email, "name": name, "phone": None},
            "captured": not bank, "created": ts, "currency": cur, "customer": None,
            "description": extra.get("description"), "disputed": False, "failure_code": None,
            "failure_message": None, "livemode": False, "metadata": extra.get("metadata", {}),
            "paid": not bank, "payment_intent": pi_id, "payment_method_details": details,
            "receipt_email": extra.get("receipt_email"), "refunded": False, "shipping": shipping,
            "status": "pending" if bank else "succeeded",
        }
        return pi_id

    def resolve_async(self, sid: str, succeeded: bool | None = None) -> tuple[Obj, list[str]]:
        """Settle a session's processing bank payment: as its bank account says, unless
        ``succeeded`` says otherwise. Emits ``checkout.session.async_payment_succeeded``
        (payment_status paid) or ``..._failed`` (the PaymentIntent back to
        ``requires_payment_method``; the session stays complete and unpaid)."""
        with self.lock:
            session = self._get("checkout.session", sid)
            pi = self.objects["payment_intent"].get(session["payment_intent"] or "")
            if pi is None or pi["status"] != "processing":
                raise SandboxError(400, "This Checkout Session has no pending asynchronous payment.",
                                   param="session")
            if succeeded is None:
                succeeded = self.async_outcomes.get(pi["id"], True)
            self.due.pop(pi["id"], None)
            charge = self.objects["charge"][pi["latest_charge"]]
            if succeeded:
                pi.update(status="succeeded", amount_received=pi["amount"])
                charge.update(status="succeeded", paid=True, captured=True, amount_captured=charge["amount"])
                session["payment_status"] = "paid"
            else:
                error = {"type": "invalid_request_error", "code": "insufficient_funds",
                         "message": "The customer's account has insufficient funds to cover this payment."}
                pi.update(status="requires_payment_method", last_payment_error=error)
                charge.update(status="failed", failure_code="insufficient_funds", failure_message=error["message"])
            outcome = "succeeded" if succeeded else "failed"
            return copy.deepcopy(session), [self.emit(f"checkout.session.async_payment_{outcome}", session)]

    # -- refunds --------------------------------------------------------------------------

    def create_refund(self, *, payment_intent: str | None = None, charge: str | None = None,
                      amount: int | None = None, reason: str | None = None,
                      metadata: Obj | None = None) -> Obj:
        """Refund ``amount`` (default: all that is left) of a succeeded charge, found directly
        or as a PaymentIntent's ``latest_charge``. A bank debit's refund (or any, with
        ``pending_refunds`` set) starts ``pending``; pending refunds count against what is
        left. Updates the charge and emits ``charge.refunded`` then ``refund.created``. Errors
        as Stripe: 404 unknown object, 400 nothing refundable / ``amount_too_large`` /
        non-positive amount."""
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
            bank_debit = target["payment_method_details"]["type"] != "card"
            refund = {
                "id": new_id("re_"), "object": "refund", "amount": value, "balance_transaction": None,
                "charge": target["id"], "created": now(), "currency": target["currency"],
                "destination_details": None, "failure_reason": None, "metadata": metadata or {},
                "payment_intent": target["payment_intent"], "reason": reason, "receipt_number": None,
                "status": "pending" if bank_debit or self.config.pending_refunds else "succeeded",
            }
            self.objects["refund"][refund["id"]] = refund
            if refund["status"] == "pending" and self.config.settle_after is not None:
                self.due[refund["id"]] = time.time() + self.config.settle_after
            target["amount_refunded"] += value
            target["refunded"] = target["amount_refunded"] >= target["amount"]
            self.emit("charge.refunded", target)
            self.emit("refund.created", refund)
            return copy.deepcopy(refund)

    def settle_refund(self, rid: str, status: str, failure_reason: str | None = None) -> tuple[Obj, list[str]]:
        """Move a refund on as Stripe does later: a pending one succeeds, fails or is cancelled;
        a succeeded one can still fail (the card was closed meanwhile). A failed or cancelled
        refund's amount is refundable again. Emits ``refund.updated`` and
        ``charge.refund.updated`` (with the old status in ``previous_attributes``), and
        ``refund.failed`` when it failed."""
        with self.lock:
            refund = self._get("refund", rid)
            before = refund["status"]
            if status not in _REFUND_MOVES.get(before, set()):
                raise SandboxError(400, f"A {before} refund cannot become {status}.", param="status")
            if failure_reason is not None and failure_reason not in _REFUND_FAILURES:
                raise SandboxError(400, f"failure_reason: one of {', '.join(_REFUND_FAILURES)}",
                                   param="failure_reason")
            self.due.pop(rid, None)
            refund["status"] = status
            if status in ("failed", "canceled"):
                refund["failure_reason"] = failure_reason or ("declined" if status == "failed" else None)
                charge = self.objects["charge"][refund["charge"]]
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            previous = {"status": before}
            events = [self.emit("refund.updated", refund, previous),
                      self.emit("charge.refund.updated", refund, previous)]
            if status == "failed":
                events.append(self.emit("refund.failed", refund, previous))
            return copy.deepcopy(refund), events

    def settle_due(self) -> int:
        """Settle processing payments and pending refunds whose time has come (sweeper hook):
        payments as their bank account says, refunds as succeeded. Returns how many."""
        with self.lock:
            moment = time.time()
            due = [oid for oid, at in self.due.items() if at <= moment]
            for oid in due:
                if oid.startswith("re_"):
                    self.settle_refund(oid, "succeeded")
                else:
                    session = next(s for s in self.objects["checkout.session"].values()
                                   if s["payment_intent"] == oid)
                    self.resolve_async(session["id"])
            return len(due)

    # -- webhook endpoints ----------------------------------------------------------------

    def create_endpoint(self, *, url: str, enabled_events: list[str], api_version: str | None,
                        description: str | None, metadata: Obj | None) -> Obj:
        """A new enabled endpoint; the answer (only this one) carries its signing secret."""
        with self.lock:
            endpoint = {
                "id": new_id("we_"), "object": "webhook_endpoint", "api_version": api_version,
                "application": None, "created": now(), "description": description or None,
                "enabled_events": list(enabled_events), "livemode": False, "metadata": metadata or {},
                "status": "enabled", "url": url,
            }
            secret = "whsec_" + secrets.token_hex(24)
            self.objects["webhook_endpoint"][endpoint["id"]] = endpoint
            self.endpoint_secrets[endpoint["id"]] = secret
            return {**copy.deepcopy(endpoint), "secret": secret}

    def update_endpoint(self, eid: str, changes: Obj) -> Obj:
        """Change ``url``, ``enabled_events``, ``description``, ``metadata`` or ``disabled``.
        An endpoint's API version cannot be changed: Stripe offers no such parameter."""
        with self.lock:
            endpoint = self._get("webhook_endpoint", eid)
            for key in ("url", "enabled_events", "description"):
                if key in changes:
                    endpoint[key] = changes[key] or None if key == "description" else changes[key]
            if "metadata" in changes:
                endpoint["metadata"] = {k: v for k, v in {**endpoint["metadata"], **(changes["metadata"] or {})}.items()
                                        if v != ""}
            if "disabled" in changes:
                endpoint["status"] = "disabled" if changes["disabled"] else "enabled"
            return copy.deepcopy(endpoint)

    def delete_endpoint(self, eid: str) -> Obj:
        with self.lock:
            self._get("webhook_endpoint", eid)
            del self.objects["webhook_endpoint"][eid]
            self.endpoint_secrets.pop(eid, None)
            return {"id": eid, "object": "webhook_endpoint", "deleted": True}

    # -- events and webhook delivery -----------------------------------------------------

    def emit(self, type_: str, obj: Obj, previous: Obj | None = None) -> str:
        """Record an event holding a snapshot of ``obj`` in the account's API version; deliver
        it in the background to each enabled endpoint subscribed to ``type_`` (in that
        endpoint's version) and to the forwarding target, when config allows. Returns its id."""
        with self.lock:
            data: Obj = {"object": copy.deepcopy(obj)}
            if previous is not None:
                data["previous_attributes"] = copy.deepcopy(previous)
            event = {
                "id": new_id("evt_"), "object": "event", "api_version": self.config.api_version,
                "created": now(), "data": data, "livemode": False, "pending_webhooks": 0,
                "request": {"id": None, "idempotency_key": None}, "type": type_,
            }
            eid = event["id"]
            self.objects["event"][eid] = event
            self.attempts[eid] = []
            targets = self._targets(event) if self.config.deliver_webhooks else []
            event["pending_webhooks"] = len(targets)
            for target in targets:
                payload = self._payload(event, target.api_version)
                threading.Thread(target=self._deliver_with_retries, name=f"webhook-{eid}", daemon=True,
                                 args=(eid, payload, target)).start()
        log.info("event %s %s", eid, type_)
        return eid

    def _targets(self, event: Obj) -> list[Target]:
        targets = [
            Target(endpoint["id"], endpoint["url"], self.endpoint_secrets[endpoint["id"]],
                   endpoint["api_version"] or event["api_version"])
            for endpoint in self.objects["webhook_endpoint"].values()
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event["type"] in endpoint["enabled_events"])
        ]
        forward = self._forward_target(event)
        return targets + ([forward] if forward else [])

    def _forward_target(self, event: Obj, url: str | None = None) -> Target | None:
        cfg = self.config
        url = url or cfg.webhook_url
        if not url or not cfg.webhook_secret:
            return None
        return Target(CONFIG_TARGET, url, cfg.webhook_secret, cfg.webhook_api_version or event["api_version"])

    @staticmethod
    def _payload(event: Obj, api_version: str) -> str:
        """The exact JSON an endpoint in ``api_version`` receives (Stripe pretty-prints it)."""
        return json.dumps({**render(event, api_version), "api_version": api_version}, indent=2)

    def events(self) -> list[Obj]:
        """Every event, oldest first, each with ``delivery_attempts``."""
        with self.lock:
            return [{**copy.deepcopy(e), "delivery_attempts": copy.deepcopy(self.attempts[eid])}
                    for eid, e in self.objects["event"].items()]

    def event(self, eid: str) -> Obj:
        """One event as the API answers it: rendered in the version it was created in."""
        with self.lock:
            event = self._get("event", eid)
            return json.loads(self._payload(event, event["api_version"]))

    def event_detail(self, eid: str, api_version: str | None = None) -> Obj:
        """``{event, payload, delivery_attempts}`` for one event (404 if unknown). ``payload``
        is what the forwarding target receives, or, given ``api_version``, what an endpoint
        in that version receives."""
        with self.lock:
            event = self._get("event", eid)
            if api_version is not None and not is_known(api_version):
                raise SandboxError(400, f"Unknown API version: {api_version}", param="api_version")
            version = api_version or self.config.webhook_api_version or event["api_version"]
            return {"event": copy.deepcopy(event), "payload": self._payload(event, version),
                    "delivery_attempts": copy.deepcopy(self.attempts[eid])}

    def deliver(self, eid: str, url: str | None = None) -> Obj:
        """POST the event once more, synchronously, to the forwarding target (or ``url``, signed
        with its secret). Returns the recorded attempt ``{at, endpoint, url, status, error}``."""
        with self.lock:
            event = self._get("event", eid)
            target = self._forward_target(event, url)
            if target is None:
                raise SandboxError(400, "Configure webhook_secret and a webhook_url (or pass url) first.")
            payload = self._payload(event, target.api_version)
        return self._attempt(eid, payload, target)

    def _attempt(self, eid: str, payload: str, target: Target) -> Obj:
        attempt: Obj = {"at": time.time(), "endpoint": target.endpoint, "url": target.url,
                        "api_version": target.api_version, "status": None, "error": None}
        request = urllib.request.Request(target.url, data=payload.encode("utf-8"), method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, target.secret),
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
        log.info("webhook %s -> %s: %s", eid, target.url, attempt["status"] or attempt["error"])
        return attempt

    def _deliver_with_retries(self, eid: str, payload: str, target: Target) -> None:
        for pause in (*RETRY_BACKOFF, None):
            status = self._attempt(eid, payload, target)["status"]
            if status is not None and 200 <= status < 300:
                return
            if pause is None:
                log.warning("webhook %s: giving up after %d attempts", eid, len(RETRY_BACKOFF) + 1)
                return
            time.sleep(pause)
