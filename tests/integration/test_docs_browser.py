"""``/docs`` in a real browser (headless Chromium from the machine's packages,
driven by Playwright), served by a real ``mailroom serve``: the operations are rendered, and no
request leaves 127.0.0.1 (the docs' assets come from Mailroom itself, so they work offline).

Playwright's own browser downloads are never used: ``executable_path`` is the Debian package's
``/usr/bin/chromium``. Without it the test is skipped, except under CI (``CI`` set), where it
fails: ``.ci/run`` installs the package.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.integration.processes import MailroomProcess, mailroom

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_TIMEOUT_MS = 20_000

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing (Debian package `chromium`; .ci/run installs it)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailroomProcess]:
    workdir = tmp_path_factory.mktemp("docs")
    with mailroom("serve", {"MAILROOM_MAILER": "fake"}, workdir) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page, and the list of every URL it requested outside 127.0.0.1 (each aborted)."""
    context = browser.new_context()
    outside: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    yield page, outside
    context.close()


def test_swagger_ui_renders_every_operation_from_local_assets(
    service: MailroomProcess, page: tuple[Page, list[str]]
) -> None:
    tab, outside = page
    tab.goto(f"{service.base_url}/docs")
    operations = tab.locator(".opblock-summary-path")
    operations.filter(has_text="/send-email").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    paths = {text.strip() for text in operations.all_inner_texts()}
    assert {"/send-email", "/task/{task_id}/status", "/healthz", "/readyz", "/metrics"} <= paths
    tab.wait_for_load_state("networkidle")
    assert outside == []
