"""The job list and a job's page in a real browser against a real service: cancel a job mid-run, retry the
failed rows of every import a filter matches, and new jobs announced without moving the list."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect

from tests.acceptance.helpers import wait_for
from tests.e2e.conftest import screenshot, serious_violations, sign_in
from tests.e2e.server import DemoServer

FINISHED = {"succeeded", "partially_succeeded", "failed", "cancelled"}


def _finished(http: httpx.Client, job_id: int, timeout: float = 90) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job: dict[str, Any] = http.get(f"/jobs/{job_id}").json()
        return job if job["status"] in FINISHED else None

    return wait_for(done, timeout=timeout, what=f"job {job_id} to finish", interval=0.2)  # type: ignore[no-any-return]


def _import_sample(demo: DemoServer, user: str = "alice") -> int:
    """The demo's GBK products file (two rows fail) imported over the API."""
    http = demo.http(user)
    sample = demo.data_dir / "samples" / "products-gbk.csv"
    upload = http.post("/uploads", files=[("files", (sample.name, sample.read_bytes(), "text/csv"))]).json()
    body = {
        "type": "import",
        "params": {"resource": "products", "mode": "upsert"},
        "upload_ids": [upload["uploads"][0]["id"]],
    }
    response = http.post("/jobs", json=body)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def test_cancel_a_job_mid_run_from_its_page(watched: Page, demo: DemoServer) -> None:
    http = demo.http("alice")
    job = http.post("/jobs", json={"type": "demo_slow", "items": list(range(40))}).json()
    sign_in(watched, demo, path=f"/jobs/{job['id']}")
    expect(watched.locator("[data-test=progress-current]")).to_contain_text("item", timeout=20_000)  # running
    assert serious_violations(watched) == []
    watched.locator("[data-test=action-cancel]").click()
    watched.locator(".n-dialog__action").get_by_role("button", name="取消").click()
    expect(watched.locator("[data-test=job-status]")).to_have_attribute("data-status", "cancelled", timeout=30_000)
    screenshot(watched, "job-cancelled")
    after = http.get(f"/jobs/{job['id']}").json()
    assert after["status"] == "cancelled"
    assert after["processed"] < 40


def test_retry_failed_on_everything_a_filter_matches(watched: Page, demo: DemoServer) -> None:
    http = demo.http("alice")
    ids = [_import_sample(demo) for _ in range(2)]
    for job_id in ids:
        assert _finished(http, job_id)["status"] == "partially_succeeded"
    sign_in(watched, demo, path="/jobs?type=import&group=failed")
    for job_id in ids:
        expect(watched.locator(f"[data-test=job-row][data-job-id='{job_id}']")).to_be_visible()
    watched.reload()  # the filter is in the address
    expect(watched.locator(f"[data-test=job-row][data-job-id='{ids[0]}']")).to_be_visible()

    watched.locator("[data-test=bulk-scope-filter]").click()
    watched.locator("[data-test=bulk-retry-failed]").click()
    watched.locator("[data-test=bulk-reason]").fill("价格列已修正")
    watched.locator("[data-test=bulk-confirm]").click()
    expect(watched.locator("[data-test=bulk-summary]")).to_be_visible(timeout=20_000)
    screenshot(watched, "bulk-retry")
    for job_id in ids:
        assert http.get(f"/jobs/{job_id}").json()["round"] == 2


def test_a_new_job_is_announced_not_slipped_under_the_cursor(watched: Page, demo: DemoServer) -> None:
    http = demo.http("alice")
    sign_in(watched, demo)
    expect(watched.locator("[data-test=updated-ago], .updated").first).to_be_visible()
    first_row = watched.locator("[data-test=job-row]").first
    shown = first_row.get_attribute("data-job-id") if first_row.count() else None
    job = http.post("/jobs", json={"type": "demo_slow", "items": [1]}).json()
    banner = watched.locator("[data-test=new-jobs-banner]")
    expect(banner).to_be_visible(timeout=20_000)
    if shown is not None:
        assert watched.locator("[data-test=job-row]").first.get_attribute("data-job-id") == shown
    banner.click()
    expect(watched.locator("[data-test=job-row]").first).to_have_attribute("data-job-id", str(job["id"]))
    http.post(f"/jobs/{job['id']}/cancel")


def test_times_are_shown_in_the_browsers_time_zone(watched: Page, demo: DemoServer, time_zone: str) -> None:
    http = demo.http("alice")
    job = http.post("/jobs", json={"type": "demo_slow", "items": [1]}).json()
    http.post(f"/jobs/{job['id']}/cancel")
    sign_in(watched, demo, path=f"/jobs/{job['id']}")
    created = watched.locator("[data-test=job-created]")
    expect(created).to_contain_text(re.compile(r"\d{2}:\d{2}:\d{2}"))
    made = datetime.fromisoformat(job["created_at"]).astimezone(ZoneInfo(time_zone))
    assert made.strftime("%H:%M:%S") in created.inner_text()


def test_a_job_is_submitted_from_a_plain_http_page_on_a_host_name(watched: Page, demo: DemoServer) -> None:
    """Not a secure context (no HTTPS, not localhost), as a service on a LAN is usually reached."""
    origin = demo.url.replace("127.0.0.1", "yard.internal")
    sign_in(watched, demo, path="/jobs/new?type=demo_slow", origin=origin)
    assert watched.evaluate("() => window.isSecureContext") is False
    watched.locator("[data-test=type-demo_slow]").click()
    watched.locator("[data-test=items-text] textarea").fill("1\n2\n3")
    watched.locator("[data-test=submit-button]").click()
    watched.wait_for_url(lambda url: "/jobs/new" not in url and "/jobs/" in url)
    job_id = int(watched.url.rstrip("/").rsplit("/", 1)[1])
    assert demo.http("alice").get(f"/jobs/{job_id}").json()["total"] == 3
    demo.http("alice").post(f"/jobs/{job_id}/cancel")
