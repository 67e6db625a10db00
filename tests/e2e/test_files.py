"""Files through the dashboard, as the seeds tell it: ten product photos of which two are refused at once, the
quota confirmed, the batch watched to its end, its ZIP downloaded and its failures retried; a GBK spreadsheet
with bad rows previewed, dry-run and imported, and its error report downloaded; 100,000 rows exported."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, serious_violations, sign_in
from tests.e2e.server import DemoServer
from tests.integration.images_server import jpeg, truncated_jpeg


def _photos(directory: Path) -> list[Path]:
    """Ten files: six good photos, two that are JPEG by their first bytes but break when decoded, a GIF and a
    photo over the 10 MB limit."""
    directory.mkdir()
    files = {f"连衣裙_{i}.jpg": jpeg(i) for i in range(6)}
    files |= {f"坏图_{i}.jpg": truncated_jpeg(i) for i in range(2)}
    files["动图.gif"] = b"GIF89a" + bytes(200)
    files["超大.jpg"] = jpeg(99) + bytes(11 * 1024 * 1024)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return sorted(directory.iterdir())


def test_ten_photos_two_refused_quota_confirmed_watched_zipped_and_retried(
    watched: Page, demo: DemoServer, tmp_path: Path
) -> None:
    http = demo.http("alice")
    balance = http.get("/me").json()["quota"]
    sign_in(watched, demo, path="/jobs/new")
    watched.locator("[data-test=type-images]").click()
    watched.locator("[data-test=file-input]").set_input_files([str(p) for p in _photos(tmp_path / "photos")])
    expect(watched.locator("[data-test=file-rejected]")).to_have_count(2)
    expect(watched.locator("[data-test=file-kept]")).to_have_count(8, timeout=30_000)
    expect(watched.locator("[data-test=quota-preview]")).to_contain_text("8 张 × 1 配额 = 8 配额")
    assert serious_violations(watched) == []
    screenshot(watched, "images-new")

    watched.locator("[data-test=submit-button]").click()
    dialog = watched.locator("[data-test=quota-dialog]")
    expect(dialog.locator("[data-test=quota-before]")).to_contain_text(str(balance))
    expect(dialog.locator("[data-test=quota-after]")).to_contain_text(str(balance - 8))
    dialog.locator("[data-test=quota-confirm]").click()
    watched.wait_for_url(lambda url: "/jobs/new" not in url and "/jobs/" in url)
    job_id = int(watched.url.rstrip("/").rsplit("/", 1)[1])

    status = watched.locator("[data-test=job-status]")
    expect(status).to_have_attribute("data-status", "partially_succeeded", timeout=60_000)
    expect(watched.locator("[data-test=progress-count]")).to_contain_text("8/8")
    expect(watched.locator("[data-test=count-failed]")).to_contain_text("2")
    screenshot(watched, "images-done")

    with watched.expect_download() as download:
        watched.locator("[data-test=download-zip-success]").click()
    saved = tmp_path / "batch.zip"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"batch_{job_id}.zip"
    with zipfile.ZipFile(saved) as archive:
        assert len(archive.namelist()) == 6

    watched.locator("[data-test=action-retry-failed]").click()
    watched.locator(".n-dialog__action").get_by_role("button", name="重试失败项").click()
    expect(watched.locator("[data-test=round]")).to_have_count(2, timeout=30_000)
    expect(status).to_have_attribute("data-status", "partially_succeeded", timeout=60_000)
    job = http.get(f"/jobs/{job_id}").json()
    assert (job["round"], job["succeeded"], job["failed"]) == (2, 6, 2)


def _gbk_products(path: Path, rows: int, bad: dict[int, tuple[int, str]]) -> Path:
    """Products no run has written before (their keys are new), in GBK as Excel in China saves them."""
    batch = uuid.uuid4().hex[:6].upper()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["商品编码", "名称", "价格", "库存", "上架日期"])
    for i in range(rows):
        row = [f"E2E{batch}{i:06d}", f"测试商品 {i}", f"{10 + i % 90}.50", str(i % 500), "2025-10-01"]
        if i in bad:
            column, value = bad[i]
            row[column] = value
        writer.writerow(row)
    path.write_bytes(out.getvalue().encode("gbk"))
    return path


def test_a_gbk_file_with_three_bad_rows_previewed_dry_run_imported_and_its_errors_downloaded(
    watched: Page, demo: DemoServer, tmp_path: Path
) -> None:
    bad = {3: (2, "-1.00"), 10: (3, "很多"), 17: (4, "2025-13-45")}
    source = _gbk_products(tmp_path / "商品.csv", 40, bad)
    sign_in(watched, demo, path="/jobs/new")
    watched.locator("[data-test=type-import]").click()
    watched.locator("[data-test=file-input]").set_input_files(str(source))
    expect(watched.locator("[data-test=file-kept]")).to_have_count(1, timeout=30_000)
    watched.locator("[data-test=field-resource]").click()
    watched.get_by_text("products", exact=True).last.click()
    preview = watched.locator("[data-test=import-preview]")
    expect(preview.locator("[data-test=preview-encoding]")).to_contain_text("gb18030", timeout=30_000)
    expect(preview.locator("[data-test=preview-row-invalid]")).to_have_count(3)
    screenshot(watched, "import-preview")

    watched.locator("[data-test=dry-run-button]").click()
    counts = watched.locator("[data-test=dry-run-counts]")
    expect(counts.locator("[data-test=count-new]")).to_contain_text("37", timeout=60_000)
    expect(counts.locator("[data-test=count-invalid]")).to_contain_text("3")
    lines = watched.locator("[data-test=invalid-line]")
    expect(lines).to_have_count(3)
    assert lines.all_inner_texts() == ["5", "12", "19"]  # the file's own lines, as the preview numbers them
    with watched.expect_download() as download:
        watched.locator("[data-test=error-report]").click()
    report = tmp_path / "errors.csv"
    download.value.save_as(report)
    lines = report.read_bytes().decode("utf-8-sig").splitlines()
    assert len(lines) == 4, lines  # a header and the three rows, ready to fix
    screenshot(watched, "import-dry-run")

    watched.locator("[data-test=submit-button]").click()
    watched.wait_for_url(lambda url: "/jobs/new" not in url and "/jobs/" in url)
    expect(watched.locator("[data-test=job-status]")).to_have_attribute(
        "data-status", "partially_succeeded", timeout=60_000
    )
    expect(watched.locator("[data-test=count-failed]")).to_contain_text("3")


@pytest.mark.slow
def test_export_of_100k_rows_downloaded(watched: Page, demo: DemoServer, tmp_path: Path) -> None:
    http = demo.http("alice")
    source = _gbk_products(tmp_path / "big.csv", 100_000, {})
    upload = http.post("/uploads", files=[("files", ("big.csv", source.read_bytes(), "text/csv"))]).json()
    body = {"type": "import", "params": {"resource": "products", "mode": "upsert"}}
    job = http.post("/jobs", json={**body, "upload_ids": [upload["uploads"][0]["id"]]}).json()
    sign_in(watched, demo, path=f"/jobs/{job['id']}")
    expect(watched.locator("[data-test=job-status]")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    total = http.get("/resources").json()

    watched.goto(f"{demo.url}/jobs/new?type=export")
    # the other browser test process may be importing its own 100k rows meanwhile: a slow menu is not a failure
    watched.locator("[data-test=field-resource]").click(timeout=90_000)
    watched.get_by_text("products", exact=True).last.click(timeout=90_000)
    watched.locator("[data-test=submit-button]").click()
    watched.wait_for_url(lambda url: "/jobs/new" not in url and "/jobs/" in url)
    expect(watched.locator("[data-test=job-status]")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    with watched.expect_download() as download:
        watched.locator("[data-test=downloads] [data-test^=artifact-]").first.click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    rows = saved.read_bytes().decode("utf-8-sig").splitlines()
    assert len(rows) - 1 >= 100_000, total
    screenshot(watched, "export-done")
