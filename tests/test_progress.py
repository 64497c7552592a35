"""Long commands show a progress bar with a count and an estimate on a terminal, and stay quiet
when their output is not one (cron, CI, a pipe)."""

import io
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import insert

from shop.catalogue.imports.csv import read_csv
from shop.catalogue.models import Publication
from shop.progress import THRESHOLD, progress_bar
from tests.conftest import isbn13

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.waits  # on a real export in a terminal, and on timed steps


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_steps(stream, length: int, pause: float = 0) -> str:
    with progress_bar(length, "Importing", stream=stream) as advance:
        for _ in range(length):
            advance(1)
            time.sleep(pause)
    return stream.getvalue()


def test_a_bar_with_a_count_and_an_estimate_on_a_terminal():
    length = THRESHOLD + 100
    shown = run_steps(Terminal(), length, pause=1.5 / length)  # the estimate comes after a second
    assert "Importing" in shown and f"{length}/{length}" in shown and "100%" in shown
    assert "[####" in shown
    assert re.search(r"\d+/300 +\d+% +\d\d:\d\d:\d\d", shown), shown[-300:]  # time left


def test_nothing_at_all_when_not_on_a_terminal_or_when_short():
    assert run_steps(io.StringIO(), THRESHOLD + 100) == ""  # not even the label
    assert run_steps(Terminal(), THRESHOLD - 1) == ""


def test_the_csv_reader_reports_each_row(tmp_path):
    path = tmp_path / "in.csv"
    rows = "\n".join(f"{isbn13(n)},T{n},,P,2020,10,1.00,0,,," for n in range(5))
    path.write_text("isbn,title,subtitle,publisher,year,pages,price,stock,summary,pdf_url,cover\n" + rows + "\n")
    steps = []
    plan = read_csv(path, advance=steps.append)
    assert len(plan.records) == 5 and steps == [1] * 5


def _many_publications(db, count: int) -> None:
    db.session.execute(insert(Publication), [
        {"isbn": isbn13(1000 + n), "title": f"Report {n}", "publisher": "P", "year": 2020, "pages": 10,
         "price_pence": 100, "stock": 0} for n in range(count)
    ])
    db.session.commit()


def _export(database_url: str, path: Path, on_a_terminal: bool) -> str:
    """``flask catalogue export`` in a child process, its standard error a terminal or a pipe."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test", "COLUMNS": "100"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "catalogue", "export", str(path)]
    if not on_a_terminal:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr
    main, child = pty.openpty()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=120) == 0, shown
    os.close(main)
    return shown.decode()


def test_a_real_export_on_a_terminal_and_in_a_pipe(db, database_url, tmp_path):
    _many_publications(db, THRESHOLD + 50)
    total = THRESHOLD + 50
    on_terminal = _export(database_url, tmp_path / "a.csv", on_a_terminal=True)
    assert "Writing a.csv" in on_terminal and f"{total}/{total}" in on_terminal
    in_a_pipe = _export(database_url, tmp_path / "b.csv", on_a_terminal=False)
    assert "Writing" not in in_a_pipe and "/" not in in_a_pipe
    assert (tmp_path / "b.csv").read_text(encoding="utf-8-sig").count("\n") == total + 1


def test_an_onix_file_is_counted_by_its_products_for_the_bar():
    from shop.catalogue.imports.onix import count_products

    samples = ROOT / "tests" / "catalogue" / "samples"
    assert count_products(samples / "onix.xml") == 3  # not its ProductIdentifiers or ProductSupply
    assert count_products(samples / "onix_short.xml") == 1


def test_the_comments_reader_reports_each_row_and_keeps_the_size_cap(tmp_path, db, publication):
    from shop.catalogue.imports.plan import ImportLimits
    from shop.comments.imports import read_csv as read_comments
    from shop.timeutil import utcnow

    path = tmp_path / "comments.csv"
    rows = "\n".join(f"{publication.isbn},{n + 1},Reader {n},,,2012-06-0{n + 1},Comment {n}" for n in range(4))
    path.write_text("isbn,number,name,job_title,organisation,posted_at,text\n" + rows + "\n")
    steps = []
    plan = read_comments(path, utcnow(), advance=steps.append)
    assert plan.errors == [] and len(plan.comments) == 4 and steps == [1] * 4
    refused = read_comments(path, utcnow(), ImportLimits(max_bytes=100))
    assert refused.comments == [] and "is larger than" in refused.errors[0]
