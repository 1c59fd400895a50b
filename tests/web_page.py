"""Helpers for the tests that drive the page in a real browser (Playwright with Debian's chromium
against a real server on 127.0.0.1); their fixtures are in web_fixtures.py (``pytest_plugins``).

Skipped when /usr/bin/chromium or the playwright package is missing (CI installs both). Screenshots
go to $PLAYWRIGHT_ARTIFACTS when set, else to a temporary folder; the ones docs/web.md shows are also
written to $LLM_ROOFLINE_DOC_IMAGES when set (``LLM_ROOFLINE_DOC_IMAGES=docs/img pytest
tests/test_web_page_*.py`` regenerates them).
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"
TIMEOUT_MS = 20_000


def new_page(browser, width: int = 1280, height: int = 800, **options):
    """A page that records script errors and console errors (CSP violations included), except the
    browser's note on a 4xx the page asked for on purpose."""
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True, **options)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text)
          if m.type == "error" and not any(f"status of {s}" in m.text for s in (422, 503)) else None)
    pg.set_default_timeout(TIMEOUT_MS)
    return pg


def screenshot(page, artifacts: Path, name: str, doc: bool = False, **options) -> Path:
    """Save a screenshot to the artifacts (and, for the docs' images, to $LLM_ROOFLINE_DOC_IMAGES)."""
    path = artifacts / name
    page.screenshot(path=str(path), **options)
    docs = os.environ.get("LLM_ROOFLINE_DOC_IMAGES")
    if doc and docs:
        page.screenshot(path=str(Path(docs) / name), **options)
    return path


def element_screenshot(page, selector: str, artifacts: Path, name: str, doc: bool = False) -> Path:
    """A screenshot of one element as it sits in the page (the sticky top bar stays at the top of the
    page instead of covering the element, as it would once the element is scrolled to)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    box = page.locator(selector).bounding_box()
    return screenshot(page, artifacts, name, doc=doc, full_page=True, clip=box)


# --- driving the page ------------------------------------------------------------------------------

def ready(page) -> str:
    return page.get_attribute("body", "data-ready") or ""


def open_page(page, url: str, sweeps: bool = False) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]", state="attached")
    page.wait_for_selector("#graph svg")
    if sweeps:
        page.wait_for_selector("body[data-sweeps]", state="attached")


def after(page, action, sweeps: bool = False) -> None:
    """Run ``action`` and wait until the page has rendered the new state from the server. (Selectors,
    not wait_for_function: the page's Content-Security-Policy forbids the eval that needs.)"""
    before = ready(page)
    before_sweeps = page.get_attribute("body", "data-sweeps") or ""
    action()
    page.wait_for_selector(f'body[data-ready]:not([data-ready="{before}"]):not([data-loading="1"])', state="attached")
    if sweeps:
        page.wait_for_selector(f'body[data-sweeps]:not([data-sweeps="{before_sweeps}"])', state="attached")


def wait_title(page, name: str) -> None:
    page.wait_for_selector(f'#op-title:text-is("{name}")')


def shown_report(page) -> dict:
    return page.evaluate("() => window.__roofline.view.report")


def state_body(page) -> dict:
    return page.evaluate("() => JSON.parse(JSON.stringify(window.__roofline.state))")


def metric(page, name: str) -> float:
    return float(page.get_attribute(f'[data-metric="{name}"]', "data-value"))


def api(base_url: str, body: dict) -> dict:
    import httpx

    response = httpx.post(base_url + "api/analyze", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


# --- the page's number format (fmt.js's si), for comparing displayed text ------------------------

def si(value: float, unit: str = "") -> str:
    """Three significant digits with the largest decimal prefix that keeps them below 1000."""
    if value == 0:
        return f"0 {unit}".strip()
    steps = [("", 1), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18)]
    i = max(k for k, (_, scale) in enumerate(steps) if abs(value) >= scale or k == 0)
    m = float(f"{value / steps[i][1]:.3g}")
    if abs(m) >= 1000 and i + 1 < len(steps):
        i += 1
        m = float(f"{value / steps[i][1]:.3g}")
    return f"{_num(m)} {steps[i][0]}{unit}".strip()


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(x)


def secs(value: float) -> str:
    """Seconds as fmt.js's secs writes them below a minute: three significant digits in s, ms, µs or ns."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= 0.9995 * scale:
            return f"{_num(float(f'{value / scale:.3g}'))} {unit}"
    return f"{_num(float(f'{value * 1e9:.3g}'))} ns"


# --- geometry of what the page drew ------------------------------------------------------------------

# For the chart under ``sel``: each label's outline (its text box through its transform: a rotated
# label is a rotated rectangle), the points (circles), sampled marker lines and ceilings, the plot box
# (from the axis lines), in the SVG's user units (= CSS pixels: the charts are drawn at their size).
CHART_GEOMETRY_JS = (Path(__file__).parent / "web_geometry.js").read_text()


def chart_geometry(page, selector: str) -> dict:
    return page.evaluate(CHART_GEOMETRY_JS, selector)


def _shrunk(poly: list, by: float) -> list:
    cx = sum(p[0] for p in poly) / len(poly)
    cy = sum(p[1] for p in poly) / len(poly)
    out = []
    for x, y in poly:
        d = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 or 1.0
        out.append((x - by * (x - cx) / d, y - by * (y - cy) / d))
    return out


def overlap(a: list, b: list, tolerance: float = 0.5) -> bool:
    """Whether two convex polygons overlap by more than ``tolerance`` pixels (separating axes)."""
    a, b = _shrunk(a, tolerance), _shrunk(b, tolerance)
    for poly in (a, b):
        for i in range(len(poly)):
            (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % len(poly)]
            nx, ny = y0 - y1, x1 - x0
            pa = [x * nx + y * ny for x, y in a]
            pb = [x * nx + y * ny for x, y in b]
            if max(pa) <= min(pb) or max(pb) <= min(pa):
                return False
    return True


def inside(point, poly: list) -> bool:
    """Whether a point is strictly inside a convex polygon (corners in order)."""
    signs = []
    for i in range(len(poly)):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % len(poly)]
        signs.append((x1 - x0) * (point[1] - y0) - (y1 - y0) * (point[0] - x0))
    return all(s > 0 for s in signs) or all(s < 0 for s in signs)


def square(x: float, y: float, r: float) -> list:
    return [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]


def within(poly: list, box: dict, tolerance: float = 1.0) -> bool:
    return all(box["left"] - tolerance <= x <= box["right"] + tolerance
               and box["top"] - tolerance <= y <= box["bottom"] + tolerance for x, y in poly)
