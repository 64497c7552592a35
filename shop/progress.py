"""Progress of long commands on a terminal: a bar with a count and an estimate of the time left
(Click's progress bar), and nothing at all when the output is not a terminal (cron, CI, a pipe).

Library functions that walk many rows take an ``advance(n)`` callable and call it as they go;
the command that runs them makes one with ``progress_bar``. Only jobs of at least
``THRESHOLD`` steps show a bar: a short import is over before a bar would help.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

THRESHOLD = 200  # rows; below this a bar would only flicker

Advance = Callable[[int], None]


def nothing(_steps: int = 1) -> None:
    """The ``advance`` of a job nobody watches."""


@contextmanager
def progress_bar(length: int, label: str, stream: TextIO | None = None) -> Iterator[Advance]:
    """Yields ``advance(steps)``. On a terminal (``stream``, standard error by default) and for
    ``length`` of at least ``THRESHOLD``, it draws ``label [#####-----] 1200/5000 24% 00:00:09``;
    otherwise it writes nothing, not even the label."""
    stream = stream or sys.stderr
    if length < THRESHOLD or not stream.isatty():
        yield nothing
        return
    with click.progressbar(
        length=length, label=label, file=stream, show_pos=True, show_percent=True, show_eta=True
    ) as bar:
        yield bar.update
