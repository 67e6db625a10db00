"""The params of ``bulk_update`` and ``bulk_rollback``: what a user may ask for, checked before anything runs."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from batchyard.jobs.labels import zh
from batchyard.jobs.tabular.exporting import ExportFilter

Apply = Literal["chunked", "atomic"]
SetValue = str | int | float | bool | None


class BulkUpdateParams(BaseModel):
    """Which rows (a structured filter, never SQL), and what to write: expressions per field, or a transform."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Bulk update",
        json_schema_extra=zh("批量更新", "按条件更新表中的行：可先预览，完成后可回滚。"),
    )

    resource: str = Field(
        min_length=1,
        title="Resource",
        description="The resource (table) whose rows change.",
        json_schema_extra=zh("资源", "要更新的资源（表）。"),
    )
    filter: list[ExportFilter] = Field(
        default_factory=list,
        title="Filter",
        description="Terms a row must all meet to be updated; the rows are chosen once, when the job starts.",
        json_schema_extra=zh("筛选", "行须同时满足的条件；任务开始时一次选定。"),
    )
    apply: Apply = Field(
        "chunked",
        title="Apply",
        description="chunked: rows change chunk by chunk; atomic: every new value is staged first, then all are "
        "published in one transaction, so readers see only the before or the after.",
        json_schema_extra=zh("生效方式", "chunked：逐批生效；atomic：先暂存全部新值，再在一个事务中一次发布。"),
    )
    preview: bool = Field(
        False,
        title="Preview",
        description="Only count the matching rows and show sample changes and totals; change nothing.",
        json_schema_extra=zh("预览", "只统计匹配的行并展示示例变化和合计，不做任何修改。"),
    )
    transform: str | None = Field(
        None,
        title="Transform",
        description="A function the app registered, instead of set.",
        json_schema_extra=zh("转换函数", "应用注册的函数，与 set 二选一。"),
    )
    set: dict[str, SetValue] | None = Field(
        None,
        title="Set",
        description='Field -> expression on the row\'s fields ("round(price * 1.05, 2)") or a JSON value.',
        json_schema_extra=zh("设置", "字段 → 基于行字段的表达式（如 round(price * 1.05, 2)）或 JSON 值。"),
    )

    @model_validator(mode="after")
    def _one_kind_of_change(self) -> Self:
        if (self.set is None) == (self.transform is None):
            raise ValueError("give either set or transform")
        if self.set is not None and not self.set:
            raise ValueError("set names no field")
        return self


class RollbackParams(BaseModel):
    """Which bulk update to undo, and whether rows changed since are restored anyway."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Roll back a bulk update",
        json_schema_extra=zh("回滚批量更新", "把批量更新改过的行恢复为原值。"),
    )

    job_id: int = Field(ge=1, le=2**63 - 1, title="Bulk update", json_schema_extra=zh("批量更新任务"))
    force: bool = Field(
        False,
        title="Force",
        description="Restore rows changed since the update too (else they are listed as conflicts).",
        json_schema_extra=zh("强制", "更新后又被修改的行也恢复（否则列为冲突）。"),
    )
