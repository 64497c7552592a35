"""A watched browser tab: every step screenshots the page, runs axe-core on it, checks it at a
375 px wide viewport, and fails on console errors or failed requests to the shop.

Imported by the browser tests only (it needs Playwright, which plain ``make test`` lacks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page, Request, Response

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
FAILING_IMPACTS = ("serious", "critical")

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return {passes: result.passes.length, violations: result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({
      target: n.target.join(" "), html: n.html, summary: n.failureSummary || ""
    }))
  }))};
}"""

MEASURE_WIDTH = """() => {
  const viewport = window.innerWidth;
  const describe = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim()
       ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const positioned = el => ["absolute", "fixed"].includes(getComputedStyle(el).position);
  const clipped = el => {  // inside a box that scrolls or clips it: not the page's overflow
    let escapes = positioned(el);  // clipped only by boxes from its containing block up
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (escapes && style.position === "static") continue;
      if (style.overflowX !== "visible") return true;
      escapes = positioned(a);
    }
    return false;
  };
  const offenders = [];
  if (document.documentElement.scrollWidth > viewport) {
    for (const el of document.querySelectorAll("body *")) {
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > viewport + 0.5 && !clipped(el)) {
        offenders.push(describe(el) + " (right edge at " + Math.round(box.right) + "px)");
      }
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: viewport,
    offenders: offenders.slice(0, 20)
  };
}"""


@dataclass
class StepReport:
    number: int
    name: str
    url: str
    ours: bool
    violations: list[dict] | None = None  # None: axe not run (JavaScript disabled)
    width: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"{self.number:02d} {self.name}: {self.url}"
                 + ("" if self.ours else "  (not ours: reported, never failed)")]
        if self.width:
            wide, viewport = self.width["scrollWidth"], self.width["innerWidth"]
            lines.append(f"  width at 375 px: {wide} of {viewport}")
            lines.extend(f"    too wide: {offender}" for offender in self.width["offenders"])
        if self.violations is None:
            lines.append("  axe: not run (JavaScript disabled)")
        else:
            lines.append(format_violations(self.violations) or "  axe: no violations")
        lines.extend(f"  {problem}" for problem in self.problems)
        return lines


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            html = re.sub(r"\s+", " ", node["html"])[:300]
            lines.append(f"      at {node['target']}: {html}")
            lines.extend(f"        {line}" for line in node["summary"].splitlines())
    return "\n".join(lines)


def write_report(path: Path, steps: list[StepReport]) -> None:
    """Every step's URL, axe findings of any impact, width at 375 px and the problems seen
    (the sandbox's too), in step order."""
    if steps:
        lines = [line for step in sorted(steps, key=lambda s: s.number) for line in step.lines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Tab:
    """One page in its own browser context, watched from the first request on."""

    def __init__(
        self,
        page: Page,
        *,
        shop_url: str,
        folder: Path,
        axe_source: str,
        numbers: Iterator[int],
        javascript: bool = True,
    ):
        self.page = page
        self.shop_url = shop_url
        self.folder = folder
        self.axe_source = axe_source
        self.numbers = numbers  # shared by the tabs of one test, so screenshots sort in order
        self.javascript = javascript
        self.steps: list[StepReport] = []
        self._pending: list[str] = []  # problems on our pages since the last step
        self._foreign: list[str] = []  # the same on the sandbox's pages (reported, not failed)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._note(self.page.url, f"uncaught error: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    # -- watching ------------------------------------------------------------------------

    def is_ours(self, url: str) -> bool:
        return url == self.shop_url or url.startswith(self.shop_url + "/")

    def _note(self, url: str, text: str) -> None:
        (self._pending if self.is_ours(url) else self._foreign).append(text)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            source = (message.location or {}).get("url") or self.page.url
            self._note(source, f"console error on {self.page.url}: {message.text} ({source})")

    def _on_request_failed(self, request: Request) -> None:
        failure = f"request failed: {request.method} {request.url}: {request.failure}"
        self._note(request.url, failure)

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            method = response.request.method
            self._note(response.url, f"HTTP {response.status} for {method} {response.url}")

    # -- steps ---------------------------------------------------------------------------

    def goto(self, path_or_url: str) -> None:
        url = path_or_url if "://" in path_or_url else self.shop_url + path_or_url
        # A page still loading would have its requests aborted by the next navigation.
        self.page.wait_for_load_state("load")
        self.page.goto(url)

    def step(self, name: str, *, ours: bool = True, status: int | None = None) -> StepReport:
        """Check the page now shown: screenshot it, run axe, measure it at 375 px, and fail on
        what went wrong since the last step. ``ours=False`` (the sandbox's payment page): check
        and report, but never fail. ``status``: the page itself was meant to be answered with
        this error status (a form sent back with 409 or 422), so that answer is no failure."""
        page = self.page
        page.wait_for_load_state("load")
        if status is not None:
            meant = (f"HTTP {status} for POST {page.url}", f"status of {status} (")
            self._pending = [p for p in self._pending if not (page.url in p and any(m in p for m in meant))]
        report = StepReport(next(self.numbers), name, page.url, ours)
        self.steps.append(report)
        page.screenshot(path=self.folder / f"{report.number:02d}-{name}.png", full_page=True)

        if self.javascript:
            report.violations = self.axe()
        serious = [v for v in report.violations or [] if v["impact"] in FAILING_IMPACTS]
        if serious and ours:
            report.failures.append(
                f"axe found {len(serious)} serious or critical violation(s) on {page.url}:\n"
                + format_violations(serious)
            )

        page.set_viewport_size(PHONE)
        report.width = page.evaluate(MEASURE_WIDTH)
        phone_shot = self.folder / f"{report.number:02d}-{name}-375px.png"
        page.screenshot(path=phone_shot, full_page=True)
        page.set_viewport_size(DESKTOP)
        if report.width["scrollWidth"] > report.width["innerWidth"] and ours:
            report.failures.append(
                f"at 375 px the page is {report.width['scrollWidth']} px wide on {page.url}; "
                "too wide: " + "; ".join(report.width["offenders"])
            )

        report.problems = self._pending + self._foreign
        if self._pending:
            report.failures.append(
                "console errors or failed requests to the shop:\n  " + "\n  ".join(self._pending)
            )
        self._pending, self._foreign = [], []
        assert not report.failures, f"step {report.number} ({name}):\n" + "\n".join(report.failures)
        return report

    def axe(self) -> list[dict]:
        """axe-core's violations on the page now shown (all impacts). Needs JavaScript: axe's
        run waits on timers, which do not fire in a context with JavaScript disabled."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            # Indirect eval in the page's own world: no <script> element that a CSP could refuse.
            self.page.evaluate("source => { (0, eval)(source); }", self.axe_source)
        result = self.page.evaluate(RUN_AXE)
        assert result["passes"] > 0, f"axe-core checked nothing on {self.page.url}"
        return result["violations"]

    def print_view(self, name: str, hidden: list[str], shown: list[str]) -> Path:
        """Emulate print media, screenshot the page, check what a printout hides and keeps."""
        page = self.page
        page.emulate_media(media="print")
        try:
            path = self.folder / f"{next(self.numbers):02d}-{name}-print.png"
            page.screenshot(path=path, full_page=True)
            still_shown = [s for s in hidden if any(e.is_visible() for e in page.locator(s).all())]
            missing = [s for s in shown if not page.locator(s).first.is_visible()]
        finally:
            page.emulate_media(media="screen")
        assert not still_shown, f"printing {page.url} still shows {still_shown}"
        assert not missing, f"printing {page.url} leaves out {missing}"
        return path
