"""The dashboard draws a form from each built-in job type's params schema: every field, and every model, must have
its name in Chinese beside the English one, or a reader in Chinese meets English labels."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from batchyard.jobs.images.params import ImageParams
from batchyard.jobs.tabular.exporting import ExportParams
from batchyard.jobs.tabular.importing import ImportParams


def _untranslated(schema: dict[str, Any], where: str) -> list[str]:
    missing = [where] if "title_zh" not in schema else []
    if "description" in schema and "description_zh" not in schema:
        missing.append(f"{where} (description)")
    for name, field in schema.get("properties", {}).items():
        if "title_zh" not in field:
            missing.append(f"{where}.{name}")
        if "description" in field and "description_zh" not in field:
            missing.append(f"{where}.{name} (description)")
    return missing


@pytest.mark.parametrize("model", [ImageParams, ImportParams, ExportParams])
def test_every_field_is_named_in_chinese(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    missing = _untranslated({k: v for k, v in schema.items() if k != "description"}, model.__name__)
    for name, definition in schema.get("$defs", {}).items():
        if "properties" in definition:
            missing += _untranslated({k: v for k, v in definition.items() if k != "description"}, name)
    assert missing == []
