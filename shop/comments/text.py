"""A comment's text as HTML: its paragraphs, every character escaped, web addresses as links that
search engines are told not to follow.

The text is stored as the reader typed it. Here it is cut into paragraphs at blank lines (each a
``<p>``; a single line break inside one becomes ``<br>``), every piece is escaped, and each
``http://`` or ``https://`` address becomes ``<a href="…" rel="nofollow ugc">``, its address
escaped too. Nothing the reader typed reaches the page unescaped, so no tag, attribute or script
of theirs can: the one ``Markup`` made here is built from escaped pieces.
"""

import re
from datetime import datetime

from markupsafe import Markup, escape

from shop.timeutil import local

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# An address runs to the next space or quote; punctuation at its very end is the sentence's.
WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}"


def _with_links(text: str, links: bool) -> Markup:
    if not links:
        return escape(text)
    pieces: list[str] = []
    position = 0
    for match in WEB_ADDRESS.finditer(text):
        address = match.group().rstrip(TRAILING)
        end = match.start() + len(address)
        pieces.append(escape(text[position : match.start()]))
        if len(address) <= len("https://"):
            pieces.append(escape(address))
        else:
            pieces.append(Markup('<a href="{0}" rel="nofollow ugc">{0}</a>').format(address))
        position = end
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def paragraphs(text: str, links: bool = True) -> Markup:
    """The comment as escaped HTML paragraphs (see the module's docstring); ``links=False``
    leaves web addresses as text (the moderation queue: no stray click on a spammer's link)."""
    html = Markup("")
    for paragraph in PARAGRAPH_BREAK.split((text or "").strip()):
        lines = [_with_links(line, links) for line in paragraph.split("\n")]
        html += Markup("<p>{}</p>").format(Markup("<br>\n").join(lines))
    return html


def comment_date(moment: datetime) -> str:
    """The day a comment was posted, in the shop's time zone: ``14 June 2012``."""
    return local(moment).strftime("%-d %B %Y")
