"""Every page of the dashboard, opened in both themes by each kind of user: no serious accessibility violation,
no console error, no missing text — and the job list stays a window onto 10,000 jobs, not 10,000 rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, serious_violations, sign_in
from tests.e2e.server import DemoServer

PAGES = {
    "alice": ["/jobs", "/jobs/new", "/jobs/new?type=import", "/jobs/new?type=export", "/account", "/notifications"],
    "admin": ["/admin/users", "/jobs"],
    "victor": ["/jobs", "/jobs/new", "/account"],
}


@pytest.mark.parametrize("user", sorted(PAGES))
def test_every_page_in_both_themes_has_no_serious_violation(watched: Page, demo: DemoServer, user: str) -> None:
    http = demo.http("alice")
    job = http.post("/jobs", json={"type": "demo_slow", "items": [1, 2]}).json()
    http.post(f"/jobs/{job['id']}/cancel")
    pages = [*PAGES[user], *([f"/jobs/{job['id']}"] if user != "victor" else [])]
    sign_in(watched, demo, user=user, path=pages[0])
    for theme in ("light", "dark"):
        if theme == "dark":
            watched.locator("[data-test=dark]").click()
        for path in pages:
            watched.goto(f"{demo.url}{path}")
            expect(watched.locator("main")).not_to_be_empty()
            assert serious_violations(watched) == [], (user, theme, path)
        screenshot(watched, f"{user}-{theme}")


@pytest.mark.slow
def test_the_job_list_stays_a_window_onto_ten_thousand_jobs(watched: Page, demo: DemoServer) -> None:
    http = demo.http("admin")

    def submit(start: int) -> list[int]:
        return [
            http.post("/jobs", json={"type": "demo_slow", "items": [i], "params": {}}).json()["id"]
            for i in range(start, start + 1_000)
        ]

    with ThreadPoolExecutor(4) as pool:
        ids = sorted(i for batch in pool.map(submit, range(0, 10_000, 1_000)) for i in batch)
    for start in range(0, len(ids), 1_000):
        http.post("/jobs/actions", json={"action": "cancel", "ids": ids[start : start + 1_000], "reason": "e2e"})

    sign_in(watched, demo, user="admin", path="/jobs?type=demo_slow")
    rows = watched.locator("[data-test=job-row]")
    expect(rows.first).to_be_visible()
    requests: list[str] = []
    watched.on("request", lambda r: requests.append(r.url) if "/api/v1/jobs?" in r.url else None)
    body = watched.locator("[data-test=jobs-table] .n-scrollbar-container, [data-test=jobs-table] .v-vl").first
    for _ in range(30):
        body.evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
        watched.wait_for_timeout(150)
    assert rows.count() < 120, "rows outside the window are not in the page"
    assert len(requests) >= 3, "further pages are asked for, by cursor, as the list scrolls"
    assert all("cursor=" in url for url in requests)
