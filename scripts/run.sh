#!/usr/bin/env bash
# Serve the shop for development. With no STRIPE_SECRET_KEY, start the local Stripe sandbox on
# loopback and point the shop at it, so a whole purchase works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PORT=${PORT:-5000}
SANDBOX_PORT=${SANDBOX_PORT:-12111}

if [ "${SHOP_ENV:-development}" = production ] && [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  echo "SHOP_ENV=production needs STRIPE_SECRET_KEY; the sandbox is for development only." >&2
  exit 1
fi

if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  export STRIPE_SECRET_KEY=sk_test_local_sandbox
  export STRIPE_WEBHOOK_SECRET=whsec_local_sandbox
  export STRIPE_API_BASE="http://127.0.0.1:${SANDBOX_PORT}"
  export SHOP_BASE_URL="${SHOP_BASE_URL:-http://127.0.0.1:${PORT}}"
  "$VENV/bin/python" -m sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" \
    --webhook-url "${SHOP_BASE_URL}/stripe/webhook" --webhook-secret "$STRIPE_WEBHOOK_SECRET" &
  sandbox_pid=$!
  echo "Stripe: LOCAL SANDBOX at $STRIPE_API_BASE (no real money). Pay with 4242 4242 4242 4242;"
  echo "        4000 0000 0000 0002 is declined. Bacs Direct Debit: sort code 10-88-00, account"
  echo "        00012345 pays after a minute, 22222227 fails. Set STRIPE_SECRET_KEY to use Stripe itself."
else
  case "$STRIPE_SECRET_KEY" in
    sk_live_*|rk_live_*) mode="LIVE mode: real cards are charged" ;;
    *) mode="test mode" ;;
  esac
  echo "Stripe: ${STRIPE_API_BASE:-https://api.stripe.com} in $mode."
fi

# Customer emails: delivered from the outbox every few seconds (to instance/mail/ as .eml files
# when no MAIL_SERVER is set).
"$VENV/bin/flask" --app wsgi outbox run --interval 3 &
outbox_pid=$!
trap 'kill "${sandbox_pid:-}" "$outbox_pid" 2>/dev/null || true' EXIT INT TERM
if [ -z "${MAIL_SERVER:-}" ]; then
  echo "Email:  written to instance/mail/*.eml (set MAIL_SERVER to send over SMTP)"
else
  echo "Email:  SMTP via ${MAIL_SERVER}:${MAIL_PORT:-25}"
fi
echo "Shop:   http://127.0.0.1:${PORT}"
"$VENV/bin/flask" --app wsgi run --host 127.0.0.1 --port "$PORT"
