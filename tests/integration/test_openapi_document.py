"""The dashboard's API types are made from frontend/openapi.json: it must be the document the routes make now,
or the app would be typed against an API that is no longer there (`make api-types` regenerates it)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from batchyard.cli import app

KEPT = Path(__file__).parents[2] / "frontend" / "openapi.json"


def test_the_dashboards_copy_of_the_openapi_document_is_current() -> None:
    result = CliRunner().invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    fresh = json.loads(result.output)
    assert fresh["paths"], "the document has routes"
    assert fresh == json.loads(KEPT.read_text(encoding="utf-8")), "frontend/openapi.json is stale: run make api-types"
