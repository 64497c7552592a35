"""Text that goes into an email header: one line, no control characters, no encoded words.

A value may arrive as an RFC 2047 encoded word (``=?utf-8?q?Eve=0D=0ABcc=3A_…?=``) that looks
harmless until the email package decodes it while writing the header: on a Python without the
CVE-2024-6923 fix (3.11.7 here) the decoded line break then starts a header of the sender's
choosing (Bcc, Subject, Content-Type). So every header value is decoded first (repeatedly: an
encoded word may wrap another), then stripped of control characters, and any ``=?`` left (what
starts an encoded word) is broken up, whatever the Python patch level.
"""

import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header

ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[a-zA-Z]\?[^?\s]*\?=")
MAX_DECODING_ROUNDS = 5


def _decoded(text: str) -> str:
    for _ in range(MAX_DECODING_ROUNDS):
        if not ENCODED_WORD.search(text):
            return text
        try:
            decoded = str(make_header(decode_header(text)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            return text  # not decodable: broken up below instead
        if decoded == text:
            return text
        text = decoded
    return text


def header_text(value: str | None, limit: int = 300) -> str:
    """``value`` as safe header text: encoded words decoded, every control character (line
    breaks included) a space, runs of spaces one, at most ``limit`` characters."""
    text = _decoded(value or "")
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = flat.replace("=?", "= ?")  # what could still start an encoded word, never left whole
    return " ".join(flat.split())[:limit]
