"""Benchmarks of the print-copy shop: ``python -m bench`` (or ``make bench``); see BENCHMARKS.md.

Nothing here is imported by the shop. Everything it writes goes to ``artifacts/`` and
``BENCHMARKS.md``; all load goes to 127.0.0.1 and is bounded in time.
"""
