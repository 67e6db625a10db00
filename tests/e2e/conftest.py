"""Browser tests: Debian's Chromium driven by Playwright against a real ``batchyard serve --demo``.

Every page a test opens is watched: an error in the console, an uncaught exception, or a message key missing
in the language shown fails the test. Screenshots go to ``tests/e2e/artifacts/`` (CI keeps them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page

from batchyard.api.dashboard import BUILT
from tests.e2e.server import DemoServer, Running

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
# The closed network here refuses Chromium's own background connections; these flags stop it making them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a host name that is not localhost: a page there over plain HTTP is not a secure context, as on a LAN
    "--host-resolver-rules=MAP yard.internal 127.0.0.1",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.timeout(240))


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Tests name the demo server's address themselves (pytest-base-url's own fixture warns under pytest 9)."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    assert CHROMIUM.exists(), "the browser tests need Debian's chromium: `make browser` installs it"
    assert (BUILT / "index.html").exists(), "the dashboard is not built: `make frontend` builds it"
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session", params=["Asia/Shanghai", "UTC"])
def time_zone(request: pytest.FixtureRequest) -> str:
    zone: str = request.param
    return zone


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], time_zone: str) -> dict[str, Any]:
    return {
        **browser_context_args,
        "timezone_id": time_zone,
        "locale": "zh-CN",
        "viewport": {"width": 1440, "height": 900},
        "accept_downloads": True,
    }


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    running = Running(tmp_path_factory.mktemp("demo"))
    try:
        server = running.ready()
        yield server
        server.close()
    finally:
        running.stop()


@pytest.fixture
def watched(page: Page, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The test's page, failing the test on console errors, uncaught exceptions and missing message keys."""
    problems: list[str] = []
    marker = request.node.get_closest_marker("refusals")
    expected = set(marker.args) if marker else set()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.add_init_script(COUNT_REQUESTS)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    yield page
    missing = page.evaluate("() => window.__batchyardMissingKeys ?? []") if not page.is_closed() else []
    assert missing == [], f"message keys missing at run time: {missing}"
    refused = [p for p in problems if p[:3].isdigit() and int(p[:3]) in expected]
    # the console's line for each expected refusal goes with it
    unexpected = [p for p in problems if p not in refused and not (refused and "Failed to load resource" in p)]
    assert unexpected == [], "\n".join(unexpected)


def sign_in(page: Page, demo: DemoServer, user: str = "alice", path: str = "/jobs", *, origin: str = "") -> None:
    page.goto(f"{origin or demo.url}/sign-in?next={path}")
    page.locator("#username").fill(user)
    page.locator("#password").fill(demo.users[user].password)
    page.locator("[data-test=sign-in]").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


# Counts the page's requests in flight (live event streams aside): a table that is about to load is not settled.
COUNT_REQUESTS = """
window.__inFlight = 0;
const pageFetch = window.fetch;
window.fetch = (...args) => {
  const url = String(args[0] && args[0].url ? args[0].url : args[0]);
  if (url.includes("/events")) return pageFetch(...args);
  window.__inFlight += 1;
  return pageFetch(...args).finally(() => { window.__inFlight -= 1; });
};
"""
_QUIET = (
    "() => (window.__inFlight ?? 0) === 0"
    " && document.getAnimations().every(a => a.playState !== 'running'"
    " || a.effect?.getComputedTiming().iterations === Infinity)"
    " && !document.querySelector('.n-data-table--loading, .n-spin--spinning')"
)


def settled(page: Page) -> None:
    """Nothing loading and no transition running (a theme switch fades colours; a loading table is dimmed), and
    still so a moment later: a page often asks for more once its first answer is in. Endless animations (a
    spinner, a live dot) do not count."""
    for _ in range(2):
        page.wait_for_function(_QUIET)
        page.wait_for_timeout(300)
    page.wait_for_function(_QUIET)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    zone = page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone").replace("/", "-")
    path = ARTIFACTS / f"{name}-{zone}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's findings on the page once it has settled, of serious or critical impact."""
    settled(page)
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [(n["target"], _why(n)) for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def _why(node: dict[str, Any]) -> str:
    checks = node.get("any") or node.get("all") or node.get("none") or [{}]
    return str(checks[0].get("message", ""))[:160]
