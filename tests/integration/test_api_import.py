"""An import over HTTP, as the dashboard and the CLI run it, on SQLite and PostgreSQL: a spreadsheet uploaded,
the job submitted with it, the task list filtered by resource, the error report downloaded and re-uploaded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import xlsxwriter

from batchyard.core.users import Role
from batchyard.errors import InvalidParams
from tests.integration.api_helpers import Service, service
from tests.support.shop import csv_bytes, declare, product_rows

PREVIEW = "/api/v1/job-types/import/preview"


@contextmanager
def _shop(database_url: str) -> Iterator[Service]:
    """A service with the shop's resources and two operators, alice and bob."""
    with service(database_url) as svc:
        declare(svc.yard)
        svc.add_user("alice", Role.OPERATOR)
        svc.add_user("bob", Role.OPERATOR)
        yield svc


def _uploaded(svc: Service, name: str, body: bytes, *, user: str = "alice") -> dict[str, Any]:
    """``body`` uploaded for an import by ``user``; the upload as the API answers it."""
    sent = svc.client.post(
        "/api/v1/uploads?job_type=import", files=[("files", (name, body, "text/csv"))], headers=svc.headers(user)
    )
    assert sent.status_code == 201, sent.text
    upload: dict[str, Any] = sent.json()["uploads"][0]
    return upload


def test_an_import_over_http_from_upload_to_fixed_error_report(database_url: str) -> None:
    with _shop(database_url) as svc:
        http, alice = svc.client, svc.headers("alice")
        rows = list(product_rows(50))
        rows[5][3] = "-2"
        upload = _uploaded(svc, "商品.csv", csv_bytes(rows, encoding="gbk"))
        job = http.post(
            "/api/v1/jobs",
            json={"type": "import", "params": {"resource": "products", "mode": "upsert"}, "upload_ids": [upload["id"]]},
            headers=alice,
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        assert job.json()["params"]["upload_ids"] == [upload["id"]]
        done = svc.yard.run_until_done(job_id, timeout=60)
        assert (done.succeeded, done.failed) == (49, 1)

        listed = http.get("/api/v1/jobs?resource=products", headers=alice).json()["jobs"]
        assert [j["id"] for j in listed] == [job_id]
        assert http.get("/api/v1/jobs?resource=customers", headers=alice).json()["jobs"] == []
        assert http.get(f"/api/v1/jobs/{job_id}/errors.csv", headers=svc.headers("bob")).status_code == 403

        report = http.get(f"/api/v1/jobs/{job_id}/errors.csv", headers=alice)
        assert report.status_code == 200
        lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
        assert [line[0] for line in lines[1:]] == ["SKU0000005"]
        assert lines[1][6] == "7"  # its line in the uploaded file
        [failed] = http.get(f"/api/v1/jobs/{job_id}/items?status=failed", headers=alice).json()["items"]
        assert (failed["index"], failed["ref"]) == (5, 7)  # the line, as the preview and the report name it
        lines[1][3] = "2"
        fixed = io.StringIO()
        csv.writer(fixed).writerows(lines)
        again = _uploaded(svc, "errors.csv", fixed.getvalue().encode("utf-8-sig"))
        second = http.post(
            "/api/v1/jobs",
            json={"type": "import", "params": {"resource": "products"}, "upload_ids": [again["id"]]},
            headers=alice,
        ).json()
        assert svc.yard.run_until_done(second["id"], timeout=60).succeeded == 1


def test_an_import_of_an_unknown_resource_or_a_picture_is_refused(database_url: str) -> None:
    with service(database_url) as svc:
        declare(svc.yard)
        svc.add_user("alice", Role.OPERATOR)
        http, alice = svc.client, svc.headers("alice")
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        refused = http.post(
            "/api/v1/uploads?job_type=import", files=[("files", ("a.csv", png, "text/csv"))], headers=alice
        )
        assert refused.status_code == 422
        upload = http.post(
            "/api/v1/uploads", files=[("files", ("a.csv", b"sku\nA\n", "text/csv"))], headers=alice
        ).json()["uploads"][0]
        job = http.post(
            "/api/v1/jobs",
            json={"type": "import", "params": {"resource": "nope"}, "upload_ids": [upload["id"]]},
            headers={**alice, "Accept-Language": "zh-CN"},
        )
        assert job.status_code == 422
        assert "nope" in job.json()["error"]["message"]


def test_a_preview_shows_the_mapping_and_first_rows_before_anything_is_submitted(database_url: str) -> None:
    with _shop(database_url) as svc:
        http, alice = svc.client, svc.headers("alice")
        rows = [
            ["SKU1", "连衣裙", "12.50", "3", "备用"],
            ["SKU2", "衬衫", "-1", "x", ""],
            ["SKU3", "T恤", "1", "2", "", "多"],
        ]
        body = csv_bytes(rows, header=["商品编码", "名称", "价格", "库存", "备注"], encoding="gbk")
        upload = _uploaded(svc, "商品.csv", body)

        answer = http.post(
            PREVIEW,
            json={"params": {"resource": "products"}, "upload_ids": [upload["id"]]},
            headers=alice,
        )
        assert answer.status_code == 200, answer.text
        preview = answer.json()
        assert (preview["format"], preview["encoding"]) == ("csv", "gb18030")
        assert [(c["column"], c["field"]) for c in preview["columns"]] == [
            ("商品编码", "sku"),
            ("名称", "name"),
            ("价格", "price"),
            ("库存", "stock"),
            ("备注", None),
        ]
        assert (preview["unmapped"], preview["missing"], preview["ready"]) == (["备注"], [], True)
        first, second, third = preview["rows"]
        assert (first["line"], first["valid"], first["cells"][1]) == (2, True, "连衣裙")
        assert not second["valid"]
        assert {r["field"] for r in second["reasons"]} == {"price", "stock"}
        assert all(r["zh"] and r["en"] != r["zh"] for r in second["reasons"])
        assert third["reasons"][0]["zh"] == "本行有 6 个单元格，表头只有 5 列"
        assert http.get("/api/v1/jobs", headers=alice).json()["jobs"] == []  # nothing was submitted

        others = http.post(
            PREVIEW,
            json={"params": {"resource": "products"}, "upload_ids": [upload["id"]]},
            headers=svc.headers("bob"),
        )
        assert others.status_code in (403, 404)
        unknown = http.post(
            PREVIEW,
            json={"params": {"resource": "nope"}, "upload_ids": [upload["id"]]},
            headers={**alice, "Accept-Language": "zh-CN"},
        )
        assert unknown.status_code == 422
        assert "nope" in unknown.json()["error"]["message"]
        no_preview = http.post("/api/v1/job-types/greet/preview", json={"params": {}}, headers=alice)
        assert no_preview.status_code == 422


def test_a_preview_of_a_file_missing_a_required_column_says_so(database_url: str) -> None:
    with service(database_url) as svc:
        declare(svc.yard)
        upload = svc.yard.upload(io.BytesIO("sku,名称\nA1,x\n".encode()), filename="p.csv")
        preview = svc.yard.preview("import", params={"resource": "products"}, upload_ids=[upload.id])
        assert preview["missing"] == ["price", "stock"]
        assert preview["ready"] is False
        assert preview["rows"][0]["valid"] is False


BAD_FILES = {
    "utf-16": "sku,name,price,stock\nA1,x,1,1\n".encode("utf-16"),
    "cr-only": b"sku,name,price,stock\rA1,x,1,1\rA2,y,1,1\r",
    "stray-cr": b"sku,name,price,stock\nA1,x\ry,1,1\n",
    "unclosed-quote": b'sku,name,price,stock\nA1,"x,1,1\n',
    "bad-quote": b'sku,name,price,stock\nA1,"x"y,1,1\n',
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_preview_refuses_what_the_import_would_refuse(database_url: str, name: str) -> None:
    with service(database_url) as svc:
        declare(svc.yard)
        upload = svc.yard.upload(io.BytesIO(BAD_FILES[name]), filename="p.csv")
        params = {"resource": "products"}
        with pytest.raises(InvalidParams) as previewed:
            svc.yard.preview("import", params=params, upload_ids=[upload.id])
        job = svc.yard.run_until_done(svc.yard.submit("import", params=params, upload_ids=[upload.id]).id, timeout=60)
        assert job.status == "failed"
        assert previewed.value.message().split(": ", 1)[-1][:40] in (job.error or "")


def test_a_preview_refuses_codecs_that_are_not_text_and_files_given_inside_the_params(database_url: str) -> None:
    with _shop(database_url) as svc:
        http, alice = svc.client, svc.headers("alice")
        upload = _uploaded(svc, "p.csv", f"sku,name,price,stock\nA1,{'长' * 900},1,1\n".encode())
        url = PREVIEW
        rot13 = http.post(
            url,
            json={"params": {"resource": "products", "encoding": "rot13"}, "upload_ids": [upload["id"]]},
            headers=alice,
        )
        assert rot13.status_code == 422
        assert "not a text encoding" in rot13.json()["error"]["message"]
        smuggled = {"resource": "products", "upload_ids": [upload["id"]]}
        assert http.post(url, json={"params": smuggled}, headers=alice).status_code == 422
        submitted = http.post("/api/v1/jobs", json={"type": "import", "params": smuggled}, headers=alice)
        assert submitted.status_code == 422
        cut = http.post(url, json={"params": {"resource": "products"}, "upload_ids": [upload["id"]]}, headers=alice)
        assert len(cut.json()["rows"][0]["cells"][1]) == 500
        theirs = http.post(
            url,
            json={"params": {"resource": "products"}, "upload_ids": [upload["id"]]},
            headers={**svc.headers("bob"), "Accept-Language": "zh-CN"},
        )
        assert theirs.status_code == 403
        assert f"上传的文件 {upload['id']} 属于其他用户" in theirs.json()["error"]["message"]


def _workbook(rows: list[list[str]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("商品")
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


OPTIONS_THAT_DO_NOT_FIT = {
    "sheet-of-a-csv": ("p.csv", b"sku,name,price,stock\nA1,x,1,1\n", {"sheet": "商品"}, "sheet applies to workbooks"),
    "encoding-of-a-workbook": (
        "p.xlsx",
        _workbook([["sku", "name", "price", "stock"], ["A1", "x", "1", "1"]]),
        {"encoding": "gbk"},
        "encoding applies to text files",
    ),
    "empty-sheet": ("p.xlsx", _workbook([]), {}, "the sheet has no rows"),
}


@pytest.mark.parametrize("name", sorted(OPTIONS_THAT_DO_NOT_FIT))
def test_options_that_do_not_fit_the_file_are_refused_by_preview_and_import_alike(database_url: str, name: str) -> None:
    filename, body, options, says = OPTIONS_THAT_DO_NOT_FIT[name]
    with service(database_url) as svc:
        declare(svc.yard)
        upload = svc.yard.upload(io.BytesIO(body), filename=filename)
        params = {"resource": "products", **options}
        with pytest.raises(InvalidParams, match=says):
            svc.yard.preview("import", params=params, upload_ids=[upload.id])
        job = svc.yard.run_until_done(svc.yard.submit("import", params=params, upload_ids=[upload.id]).id, timeout=60)
        assert job.status == "failed"
        assert says in (job.error or "")


def test_a_preview_of_a_gbk_file_ascii_at_its_head_names_the_encoding_the_import_finds(database_url: str) -> None:
    rows = [[f"SKU{n:07d}", "plain name", "1.00", "1"] for n in range(12_000)] + [["SKU-CN", "连衣裙", "2.00", "2"]]
    body = csv_bytes(rows, header=["sku", "name", "price", "stock"], encoding="gbk")
    assert body[:65_536].isascii()
    with service(database_url) as svc:
        declare(svc.yard)
        upload = svc.yard.upload(io.BytesIO(body), filename="p.csv")
        preview = svc.yard.preview("import", params={"resource": "products"}, upload_ids=[upload.id])
        assert preview["encoding"] == "gb18030"
        job = svc.yard.run_until_done(
            svc.yard.submit("import", params={"resource": "products"}, upload_ids=[upload.id]).id, timeout=60
        )
        assert (job.succeeded, job.failed) == (12_001, 0)


def test_a_preview_reading_on_for_the_encoding_still_answers_when_the_file_breaks_further_on(
    database_url: str,
) -> None:
    """A fault past the head shows when the import runs, as the docs say; the preview's mapping and rows stand."""
    rows = [[f"SKU{n:07d}", "plain name", "1.00", "1"] for n in range(40_000)]
    body = csv_bytes(rows, header=["sku", "name", "price", "stock"], encoding="utf-8") + b"SKU-X,\xff\xfe,1,1\n"
    with service(database_url) as svc:
        declare(svc.yard)
        upload = svc.yard.upload(io.BytesIO(body), filename="p.csv")
        preview = svc.yard.preview("import", params={"resource": "products"}, upload_ids=[upload.id])
        assert (preview["encoding"], len(preview["rows"]), preview["ready"]) == ("utf-8", 20, True)
        job = svc.yard.run_until_done(
            svc.yard.submit("import", params={"resource": "products"}, upload_ids=[upload.id]).id, timeout=60
        )
        assert job.status == "failed"
