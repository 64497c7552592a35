"""Notify me when available: a reader's request to hear once, by email, when a title they cannot
buy now can be ordered (double opt-in; deleted when sent or after a year; nothing else kept)."""
