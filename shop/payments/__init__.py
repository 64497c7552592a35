"""Payments: the only package that talks to Stripe (``gateway``). It takes plain values and gives
back dataclasses, and imports nothing from the rest of the shop but its errors and time helpers."""
