"""The app's frame in a real browser: sign-in, deep links on reload, language, time zone and theme, sign-out,
a viewer's view, and no serious accessibility violation in either theme."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, serious_violations, sign_in
from tests.e2e.server import DemoServer


@pytest.mark.refusals(401)
def test_a_wrong_password_is_said_in_chinese_and_nothing_opens(watched: Page, demo: DemoServer) -> None:
    watched.goto(f"{demo.url}/jobs")
    watched.wait_for_url(lambda url: url.endswith("/sign-in?next=/jobs"))
    watched.locator("#username").fill("alice")
    watched.locator("#password").fill("not her password")
    watched.locator("[data-test=sign-in]").click()
    expect(watched.get_by_role("alert")).to_contain_text("用户名或密码")
    assert "/sign-in" in watched.url


def test_a_deep_link_survives_a_reload_and_sign_out_forgets_the_token(watched: Page, demo: DemoServer) -> None:
    job = demo.http("alice").post("/jobs", json={"type": "demo_slow", "items": [1]}).json()
    sign_in(watched, demo, path=f"/jobs/{job['id']}")
    watched.reload()
    expect(watched.locator("main")).to_contain_text(str(job["id"]))
    assert watched.url.endswith(f"/jobs/{job['id']}")
    token = watched.evaluate("() => sessionStorage.getItem('batchyard.token')")
    watched.locator("[data-test=sign-out]").click()
    watched.wait_for_url(lambda url: "/sign-in" in url)
    # the page is left first, then the session ends once the requests still out have been answered
    watched.wait_for_function("() => sessionStorage.getItem('batchyard.token') === null")
    signed_out = httpx.get(f"{demo.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert signed_out.status_code == 401, "the token no longer works anywhere"
    watched.goto(f"{demo.url}/jobs/{job['id']}")
    watched.wait_for_url(lambda url: "/sign-in?next=" in url)


def test_language_theme_and_accessibility(watched: Page, demo: DemoServer) -> None:
    sign_in(watched, demo)
    expect(watched.locator("nav")).to_contain_text("任务")
    for theme in ("light", "dark"):
        if theme == "dark":
            watched.locator("[data-test=dark]").click()
        assert watched.evaluate("() => document.documentElement.dataset.theme") == theme
        assert serious_violations(watched) == [], theme
        screenshot(watched, f"jobs-{theme}")
    watched.locator("[data-test=language]").click()
    watched.get_by_text("English", exact=True).click()
    expect(watched.locator("nav")).to_contain_text("Jobs")
    watched.reload()
    expect(watched.locator("nav")).to_contain_text("Jobs")  # the choice is kept


def test_a_viewer_sees_jobs_but_no_buttons_that_change_them(watched: Page, demo: DemoServer) -> None:
    sign_in(watched, demo, user="victor")
    expect(watched.locator("nav")).not_to_contain_text("新建任务")
    assert watched.locator("[data-test=bulk-actions]").count() == 0
