"""Fixtures of the browser tests (a test module loads them with ``pytest_plugins = ("web_fixtures",)``):
a server on 127.0.0.1, Debian's chromium driven by Playwright, a page that fails the test on any
script or console error, a folder for screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from web_page import ARGS, CHROMIUM, new_page


@pytest.fixture(scope="module")
def web_url():
    pytest.importorskip("httpx")
    from llm_roofline.web.server import serve_in_thread

    with serve_in_thread() as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def web_page(chromium):
    pg = new_page(chromium)
    yield pg
    pg.context.close()
    assert not pg.errors, pg.errors  # no script errors, no CSP violations


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("PLAYWRIGHT_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("playwright-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(web_page):
    """The browser tab under the name the page tests use."""
    return web_page


@pytest.fixture(scope="module")
def base_url(web_url):
    """The server's address under the name the page tests use."""
    return web_url
