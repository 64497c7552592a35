"""CSV cells that stay text in a spreadsheet, and the way back.

Excel and LibreOffice run a cell as a formula when it starts with ``= + - @`` (OWASP's CSV
injection list; tabs and line breaks before one count too). A check of the first character is
not enough: the program may split our comma-separated file on ``;`` or a tab (LibreOffice asks;
many European set-ups default to ``;``), and then every ``;`` or tab inside a cell starts a new
cell, where ``Bob;=1+1;`` runs ``=1+1``. Quoting does not help, because a file split on the
wrong character loses track of our quotes after the first cell.

The rule: a *cell start* is the beginning of the text and every place after a ``,``, ``;``,
tab or line break, skipping spaces and double quotes. Where a cell start is followed by a run of
apostrophes (perhaps none) and then a formula character, ``defuse`` adds one apostrophe there,
so however the text is split, no piece begins with a formula. ``undo`` removes one from each
such run, which makes it exact: ``undo(defuse(text)) == text`` for every text (a cell that only
starts with an apostrophe, such as ``'Tis``, is left alone both ways).
"""

import re

FORMULA_STARTS = "=+\\-@＝＋－＠"  # and their full-width forms, which some versions accept
_CELL_START = r"((?:^|[,;\t\r\n])[\s\"]*)"
_RISKY = re.compile(_CELL_START + f"(?='*[{FORMULA_STARTS}])")
_DEFUSED = re.compile(_CELL_START + f"'(?='*[{FORMULA_STARTS}])")


def defuse(value: object) -> object:
    """``value`` with an apostrophe before every formula a spreadsheet could find in it
    (text only; numbers and None pass through)."""
    if not isinstance(value, str):
        return value
    return _RISKY.sub(r"\1'", value)


def undo(text: str) -> str:
    """The text ``defuse`` was given: one apostrophe fewer at each defused cell start."""
    return _DEFUSED.sub(r"\1", text)
