"""What a ``migrate`` job is asked to do: where to read, which resource to write, and the field map between."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from batchyard.jobs.labels import zh

Cast = Literal["int", "float", "decimal", "str", "bool", "date", "datetime"]
MAX_RANGE_ROWS = 100_000


class FieldMap(BaseModel):
    """How one target field gets its value: a source column, passed through a registered function and a cast,
    with a default when it comes out empty."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, title="Field map")

    from_: str | None = Field(None, alias="from", title="Source column", json_schema_extra=zh("源列"))
    cast: Cast | None = Field(None, title="Cast to", json_schema_extra=zh("转换为"))
    fn: str | None = Field(None, title="Function", json_schema_extra=zh("函数", "已注册的转换函数名。"))
    default: Any = Field(None, title="Default", json_schema_extra=zh("默认值", "值为空时使用。"))


class Recopy(BaseModel):
    """Ranges of an earlier migration to copy again (set by ``POST /jobs/{id}/ranges/{n}/recopy``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: int = Field(ge=1, le=2**63 - 1)
    ranges: list[int] = Field(min_length=1, max_length=1_000)


class MigrateParams(BaseModel):
    """A migration from another database into a resource, range by range of the source's key."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        title="Migrate from a database",
        json_schema_extra=zh("从数据库迁移", "把另一个数据库的表或查询结果按字段映射迁移到资源中，并逐区间校验。"),
    )

    source_url: str = Field(
        min_length=1,
        title="Source database URL",
        description="Any SQLAlchemy URL (sqlite:///legacy.db, postgresql://…, mysql+pymysql://…); read only.",
        json_schema_extra=zh("源数据库地址", "任意 SQLAlchemy 地址；只读访问。"),
    )
    source: str = Field(
        min_length=1,
        max_length=20_000,
        title="Source table or query",
        description="A table name, or one read-only SELECT.",
        json_schema_extra=zh("源表或查询", "表名，或一条只读的 SELECT 语句。"),
    )
    key: str = Field(
        min_length=1,
        title="Key column",
        description="The source column that orders and partitions the copy; it feeds the resource's key.",
        json_schema_extra=zh("键列", "用于排序和分区的源列；映射到资源的主键。"),
    )
    resource: str = Field(min_length=1, title="Target resource", json_schema_extra=zh("目标资源"))
    mapping: dict[str, str | FieldMap] = Field(
        default_factory=dict,
        title="Field map",
        description='{field: "source_col"} or {field: {"from", "cast", "fn", "default"}}; a field not named is '
        "fed by the source column of its own name.",
        json_schema_extra=zh("字段映射", "{字段: 源列} 或 {字段: {from, cast, fn, default}}；未列出的字段取同名源列。"),
    )
    drop: list[str] = Field(
        default_factory=list,
        title="Dropped columns",
        description="Source columns deliberately left behind; any other column must be mapped.",
        json_schema_extra=zh("舍弃的列", "有意不迁移的源列；其余源列都必须映射。"),
    )
    mode: Literal["upsert", "insert"] = Field(
        "upsert",
        title="Mode",
        description="upsert: a key in the target is updated; insert: it is left as it is (counted skipped).",
        json_schema_extra=zh("模式", "upsert：目标中已有的键被更新；insert：保留原行（计为跳过）。"),
    )
    max_rejects: int | float = Field(
        0,
        ge=0,
        title="Most rejected rows",
        description="A count, or a ratio below 1 of the rows read; over it the job fails.",
        json_schema_extra=zh("最多拒绝行数", "行数，或小于 1 的比例（占已读行数）；超过则任务失败。"),
    )
    verify: bool = Field(
        True,
        title="Verify",
        description="Compare count and checksum of every range on both sides; differing keys are listed.",
        json_schema_extra=zh("校验", "逐区间比较两侧的行数与校验和，并列出不一致的键。"),
    )
    verify_extra_rows: bool = Field(
        False,
        title="Verify rows only the target has",
        description="Also compare every target row between a range's bounds, so rows the source lacks are listed "
        "(a table migrated whole; whole-number or date keys copied without a cast).",
        json_schema_extra=zh(
            "校验目标多出的行",
            "同时比较每个区间边界内的全部目标行，列出源中没有的行（整表迁移；键为未转换的整数或日期）。",
        ),
    )
    copy_rows: bool = Field(
        True,
        alias="copy",
        title="Copy",
        description="false: only verify what the target holds.",
        json_schema_extra=zh("复制", "false：只校验目标中已有的数据。"),
    )
    dry_run: bool = Field(
        False,
        title="Dry run",
        description="Map and validate the first 1,000 rows, show them before and after; write nothing.",
        json_schema_extra=zh("试运行", "映射并校验前 1,000 行，展示转换前后；不写入任何数据。"),
    )
    range_rows: int = Field(
        5_000,
        ge=1,
        le=MAX_RANGE_ROWS,
        title="Rows per range",
        description="Rows per key range: the unit that is committed, verified and re-copied.",
        json_schema_extra=zh("每区间行数", "每个键区间的行数：提交、校验和重新复制的单位。"),
    )
    recopy: Recopy | None = Field(None, title="Re-copy of", json_schema_extra=zh("重新复制"))

    @model_validator(mode="after")
    def _ratio_below_one(self) -> Self:
        if isinstance(self.max_rejects, float) and self.max_rejects >= 1:
            raise ValueError("max_rejects: a ratio is below 1; give a count as a whole number")
        return self
