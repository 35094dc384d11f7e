"""The documentation pages in a real browser (Debian's chromium, driven by Playwright) against the live
server on a random port, with every request to another host blocked: both pages list every operation of
the spec, and Swagger UI's *Authorize* then *Try it out* on createTask creates a task (201).

Screenshots of both pages are saved under build/browser/, beside the JUnit reports in build/junit/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from codegen.spec import load
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from taskapi.testing.contract import random_credentials, sign_in
from tests.conftest import ROOT

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("docs_browser"), pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "build" / "browser"
# As root in a container, without a sandbox; no background traffic to Google's hosts on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPERATION_IDS = {op.operation_id for op in load(ROOT / "openapi.yaml").operations}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class OfflinePage:
    """A page that may reach the server and nothing else, and what went wrong on it."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    """Requests to another host (aborted)."""
    errors: list[str] = field(default_factory=list)
    """Uncaught exceptions and console errors, Content-Security-Policy refusals included."""

    def assert_clean(self) -> None:
        assert self.blocked == []
        # The one thing the pages' policy refuses: ReDoc's sidebar logo on Redocly's CDN.
        assert [e for e in self.errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []


@pytest.fixture
def offline(browser: Browser, base_url: str) -> Iterator[OfflinePage]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    offline = OfflinePage(context.new_page())
    offline.page.on("pageerror", lambda error: offline.errors.append(str(error)))
    offline.page.on("console", lambda m: offline.errors.append(m.text) if m.type == "error" else None)
    own = urlsplit(base_url).netloc

    def only_the_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            offline.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    yield offline
    context.close()


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_swagger_ui_lists_every_operation_offline(offline: OfflinePage, base_url: str) -> None:
    page = offline.page
    page.goto(f"{base_url}/docs")
    expect(page.locator(".opblock")).to_have_count(len(OPERATION_IDS), timeout=20_000)
    shown = set(page.locator(".opblock-summary-operation-id").all_inner_texts())
    assert shown == OPERATION_IDS
    _screenshot(page, "swagger-ui.png")
    offline.assert_clean()


def test_redoc_lists_every_operation_offline(offline: OfflinePage, base_url: str) -> None:
    page = offline.page
    page.goto(f"{base_url}/redoc")
    sections = page.locator("[data-section-id^='operation/']")
    expect(sections).to_have_count(len(OPERATION_IDS), timeout=20_000)
    shown = {str(s.get_attribute("data-section-id")).removeprefix("operation/") for s in sections.all()}
    assert shown == OPERATION_IDS
    _screenshot(page, "redoc.png")
    offline.assert_clean()


def test_try_it_out_creates_a_task_after_authorize(offline: OfflinePage, base_url: str) -> None:
    page = offline.page
    username, password = random_credentials()
    httpx.post(f"{base_url}/users", json={"username": username, "password": password}).raise_for_status()
    page.goto(f"{base_url}/docs")

    page.locator("button.authorize").first.click()
    grant = page.locator(".auth-container").filter(has_text="passwordGrant")
    grant.locator("#oauth_username").fill(username)
    grant.locator("#oauth_password").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/auth/token")) as token_response:
        grant.locator("button.authorize").click()
    assert token_response.value.status == 200
    expect(grant.locator("h6")).to_have_text("Authorized")
    grant.locator("button.btn-done").click()

    operation = page.locator("#operations-tasks-createTask")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    body = {"title": "Written in Swagger UI", "priority": 4}
    operation.locator("textarea.body-param__text").fill(json.dumps(body))
    with page.expect_response(lambda r: r.url.endswith("/tasks") and r.request.method == "POST") as created:
        operation.locator("button.execute").click()
    assert created.value.status == 201
    expect(operation.locator(".live-responses-table tr.response .response-col_status")).to_have_text("201")
    _screenshot(page, "swagger-ui-try-it-out.png")

    # The task is the caller's, stored, and where the Location header says.
    token = sign_in(base_url, username, password)
    location = created.value.headers["location"]
    stored = httpx.get(f"{base_url}{location}", headers={"Authorization": f"Bearer {token}"})
    assert stored.status_code == 200
    assert {k: stored.json()[k] for k in body} == body
    offline.assert_clean()
