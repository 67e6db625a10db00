"""Defining job types (function and class forms) and the errors' messages in English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from batchyard import errors
from batchyard.core.context import Context, Skip
from batchyard.core.jobtype import define_job_type
from batchyard.core.policies import OnError
from batchyard.core.registry import Registry
from batchyard.errors import (
    BatchyardError,
    Conflict,
    DuplicateJobType,
    IllegalTransition,
    InvalidJobType,
    InvalidParams,
    JobNotFound,
    NoItems,
    TooManyItems,
    UnknownJobType,
)


def _square(item: int, ctx: Context) -> int:
    return item * item


def test_function_job_type_takes_its_policies() -> None:
    job_type = define_job_type("square", _square, chunk_size=50, on_error="retry", max_attempts=5)
    assert job_type.name == "square"
    assert job_type.title == "square"
    assert job_type.process is _square
    assert (job_type.policies.chunk_size, job_type.policies.on_error, job_type.policies.max_attempts) == (
        50,
        OnError.RETRY,
        5,
    )
    assert (job_type.params_model, job_type.source, job_type.write, job_type.key) == (None, None, None, None)
    assert job_type.parse_params(None) == {}
    assert job_type.parse_params({"a": 1}) == {"a": 1}


class Migrate:
    title = "Migrate users"

    class Params(BaseModel):
        batch: int = 10

    def source(self, params: Params) -> range:
        return range(params.batch)

    def process(self, item: int, ctx: Context) -> int:
        return item

    def write(self, outputs: list[Any], ctx: Context) -> None:
        return None

    def key(self, item: int) -> str:
        return str(item)


def test_class_job_type_takes_params_source_write_and_key() -> None:
    job_type = define_job_type("migrate", Migrate, skip_done="migrate")
    assert job_type.title == "Migrate users"
    assert job_type.params_model is Migrate.Params
    assert job_type.source is not None
    assert job_type.write is not None
    assert job_type.key is not None
    assert job_type.key(3) == "3"
    params = job_type.parse_params({"batch": 4})
    assert list(job_type.source(params)) == [0, 1, 2, 3]
    assert job_type.params_dict(params) == {"batch": 4}
    assert job_type.params_dict(job_type.parse_params(None)) == {"batch": 10}


def test_invalid_params_name_the_field() -> None:
    job_type = define_job_type("migrate", Migrate)
    with pytest.raises(InvalidParams) as raised:
        job_type.parse_params({"batch": "many"})
    assert "batch" in raised.value.details["reason"]
    assert raised.value.details["errors"][0]["loc"] == ("batch",)
    assert "batch" in raised.value.message("zh-CN")


def test_define_job_type_refuses_unknown_options() -> None:
    with pytest.raises(InvalidJobType) as raised:
        define_job_type("square", _square, chunk_sise=10)
    assert raised.value.details["name"] == "square"


def test_define_job_type_names_the_type_in_policy_errors() -> None:
    with pytest.raises(InvalidJobType) as raised:
        define_job_type("square", _square, chunk_size=0)
    assert raised.value.details["name"] == "square"
    assert "chunk_size" in raised.value.message("en")


def test_define_job_type_refuses_unknown_on_error_with_invalid_job_type() -> None:
    with pytest.raises(InvalidJobType) as raised:
        define_job_type("square", _square, on_error="ignore")
    assert raised.value.details["name"] == "square"


def test_define_job_type_refuses_what_cannot_process() -> None:
    with pytest.raises(InvalidJobType):
        define_job_type("nothing", 42)

    class NoProcess:
        def write(self, outputs: list[Any], ctx: Context) -> None:
            return None

    with pytest.raises(InvalidJobType) as raised:
        define_job_type("no_process", NoProcess)
    assert "process" in raised.value.details["reason"]


def test_define_job_type_refuses_params_that_are_not_a_model() -> None:
    class BadParams:
        class Params:
            n: int = 1

        def process(self, item: int, ctx: Context) -> int:
            return item

    with pytest.raises(InvalidJobType) as raised:
        define_job_type("bad_params", BadParams)
    assert "Params" in raised.value.details["reason"]


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    registry = Registry()
    registry.add(define_job_type("b", _square))
    registry.add(define_job_type("a", _square))
    assert registry.names == ["a", "b"]
    assert "a" in registry
    with pytest.raises(DuplicateJobType):
        registry.add(define_job_type("a", _square))
    with pytest.raises(UnknownJobType) as raised:
        registry.get("c")
    assert raised.value.details == {"name": "c"}


def test_context_skip_raises_skip_with_reason() -> None:
    ctx = Context(job_id=1, owner="alice", params={}, round=1)
    with pytest.raises(Skip) as raised:
        ctx.skip("already imported")
    assert raised.value.reason == "already imported"
    assert not ctx.should_stop()
    ctx.request_stop()
    assert ctx.should_stop()


@pytest.mark.parametrize(
    ("error", "en", "zh"),
    [
        (
            Conflict(job_id=7, key="quotes-sync"),
            "Job 7 is already active for 'quotes-sync'; wait for it to finish or cancel it.",
            "'quotes-sync' 已有进行中的任务 7；请等待其完成或先取消它。",
        ),
        (
            TooManyItems(type="images", limit=50, count=51),
            "A job of type 'images' takes at most 50 items; it has 51.",
            "'images' 类型的任务最多 50 项，实际有 51 项。",
        ),
        (JobNotFound(job_id=3), "Job 3 does not exist.", "任务 3 不存在。"),
        (NoItems(), "The job has no items to process.", "任务没有可处理的项目。"),
        (
            IllegalTransition(job_id=4, status="succeeded", action="pause"),
            "Job 4 is succeeded; it cannot pause.",
            "任务 4 当前状态为 succeeded，无法pause。",
        ),
    ],
)
def test_error_messages_in_english_and_chinese(error: BatchyardError, en: str, zh: str) -> None:
    assert error.message() == en
    assert error.message("en") == en
    assert error.message("zh-CN") == zh
    assert error.message("zh") == zh
    assert error.message("fr") == en, "other languages fall back to English"
    assert str(error) == en


def test_explicit_message_wins_in_every_language() -> None:
    error = InvalidParams("percent must be between -50 and 50")
    assert error.message("en") == error.message("zh-CN") == "percent must be between -50 and 50"


def test_message_with_missing_details_is_the_template_not_a_crash() -> None:
    error = JobNotFound()
    assert error.message("en") == "Job {job_id} does not exist."
    assert error.message("zh-CN") == "任务 {job_id} 不存在。"


def test_every_error_has_a_code_and_a_chinese_message() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, BatchyardError) and value.__module__ == errors.__name__
    ]
    assert len(classes) > 10
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes), "codes are unique"
    for cls in classes:
        assert cls.__doc__, f"{cls.__name__} needs an English message"
        assert cls.code in errors._ZH, f"{cls.__name__} has no Chinese message"


def test_a_label_of_any_value_reads_as_text() -> None:
    from batchyard.core.context import LABEL_LIMIT, Context

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no text")

    ctx = Context(job_id=1, owner="alice", params=None, round=1)
    for value, shown in [({"sku": "A1"}, "{'sku': 'A1'}"), (42, "42"), ("line 7", "line 7"), (None, None)]:
        ctx.current = value
        assert ctx.current == shown
    ctx.current = Unprintable()
    assert ctx.current == "Unprintable"
    ctx.current = "x" * (LABEL_LIMIT + 5)
    assert ctx.current == "x" * LABEL_LIMIT
