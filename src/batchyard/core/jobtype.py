"""Job types: a name, a params model, a source of items, per-item ``process``, optional per-chunk ``write``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from batchyard.core.context import Context
from batchyard.core.policies import Policies
from batchyard.core.templates import check_template
from batchyard.errors import InvalidJobType, InvalidParams

ProcessFn = Callable[[Any, Context], Any]
# ``write`` may say what became of some items: {position in its list: a new output, a ``Skip``, or an exception
# that fails the item}; None leaves every item succeeded with the output ``process`` gave.
WriteFn = Callable[[list[Any], Context], "Mapping[int, Any] | None"]
SourceFn = Callable[..., Iterable[Any]]  # (params) or (params, ctx)
KeyFn = Callable[[Any], str]
# A job type whose items are too many to store (the rows of a file) plans ``Segment``s and loads each chunk's
# items when it runs: (spec, ctx) -> the items. ``stored_form`` gives a failed item's input to keep and its place
# in the source (a line number), since its chunk keeps only the spec.
LoadFn = Callable[[dict[str, Any], Context], list[Any]]
StoredFormFn = Callable[[Any], tuple[Any, "int | None"]]
# What a job would do, before it is submitted (an import's column mapping and first rows): (params, ctx) -> JSON.
PreviewFn = Callable[[Any, Context], "Mapping[str, Any]"]
# A check of params their model cannot make alone (a date range's length), run at submit and preview: it raises.
ValidateFn = Callable[[Any], None]


class ItemSource(Protocol):
    """What ``source=`` may be beyond a plain function (a date range): each part optional, found by name."""

    def __call__(self, params: Any) -> Iterable[Any]: ...

    def validate(self, params: Any) -> None:
        """Raise when the params cannot make items (checked at submit, before the job exists)."""

    def key(self, item: Any) -> str:
        """The item's key, for ``skip_done``."""

    def adapt(self, process: ProcessFn) -> ProcessFn:
        """Wrap ``process`` to hand it each item in its own form."""

    @property
    def chunk_size(self) -> int:
        """The chunk size the job type takes unless it says otherwise."""


@dataclass(frozen=True, slots=True)
class JobType:
    name: str
    process: ProcessFn
    policies: Policies = field(default_factory=Policies)
    params_model: type[BaseModel] | None = None
    source: SourceFn | None = None
    write: WriteFn | None = None
    key: KeyFn | None = None
    title: str = ""
    load: LoadFn | None = None
    stored_form: StoredFormFn | None = None
    preview: PreviewFn | None = None
    validate: ValidateFn | None = None

    @property
    def source_takes_context(self) -> bool:
        """Whether the source is ``source(params, ctx)``: one that reads the job's uploads needs the context."""
        if self.source is None:
            return False
        try:
            return len(inspect.signature(self.source).parameters) >= 2
        except (TypeError, ValueError):
            return False

    def parse_params(self, raw: dict[str, Any] | None) -> Any:
        """Validate raw params into the type's model (or pass a plain dict through when it has none), then by
        the type's own ``validate``."""
        if self.params_model is None:
            parsed: Any = dict(raw or {})
        else:
            try:
                parsed = self.params_model.model_validate(raw or {})
            except ValidationError as exc:
                raise InvalidParams(reason=_describe(exc), errors=exc.errors(include_url=False)) from exc
        if self.validate is not None:
            self.validate(parsed)
        return parsed

    def params_dict(self, params: Any) -> dict[str, Any]:
        if isinstance(params, BaseModel):
            return params.model_dump(mode="json")
        return dict(params)


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "params"
    return f"{where}: {first['msg']}"


def define_job_type(name: str, target: Any, **options: Any) -> JobType:
    """Build a JobType from a function ``(item, ctx) -> output`` or a class with ``process`` and friends.

    ``key=`` gives a function-form type its item key (a class may define a ``key`` method instead); ``source=``
    its items from its params (see ``ItemSource``).
    """
    title = options.pop("title", "") or name
    key = options.pop("key", None)
    source = options.pop("source", None)
    declared = source if source is not None else getattr(target, "source", None)
    if isinstance(chunk_size := getattr(declared, "chunk_size", None), int):
        options.setdefault("chunk_size", chunk_size)  # a date range's day is its own chunk
    try:
        policies = Policies(**options)
    except InvalidJobType as exc:
        raise InvalidJobType(name=name, reason=exc.details["reason"]) from None
    except TypeError as exc:
        raise InvalidJobType(name=name, reason=str(exc)) from None
    for template in (policies.exclusive, policies.skip_done):
        if template is not None:
            check_template(template, type_name=name)
    job_type = _build(name, target, policies, title)
    if source is not None:
        job_type = _with_source(job_type, source, keyed=key is not None)
    elif job_type.source is not None and not inspect.ismethod(job_type.source):  # a class's ``source = ...``
        job_type = _with_source(replace(job_type, source=None), job_type.source, keyed=key is not None)
    return _with_key(job_type, key)


def _with_source(job_type: JobType, source: Any, *, keyed: bool) -> JobType:
    """A type given ``source=`` (or a class with ``source = ...``): a plain callable ``(params) -> items``, or an
    ``ItemSource`` that also checks the params, keys its items and hands each to ``process`` in its own form."""
    name = job_type.name
    if not callable(source):
        raise InvalidJobType(name=name, reason="source must be a function params -> items")
    if job_type.source is not None:
        raise InvalidJobType(name=name, reason="source is given both as an option and as a method")
    adapt = getattr(source, "adapt", None)
    return replace(
        job_type,
        source=source,
        process=adapt(job_type.process) if callable(adapt) else job_type.process,
        validate=job_type.validate or getattr(source, "validate", None),
        key=job_type.key if keyed else job_type.key or getattr(source, "key", None),
    )


def _build(name: str, target: Any, policies: Policies, title: str) -> JobType:
    if inspect.isclass(target):
        return _from_instance(name, target(), policies, title)
    if callable(getattr(target, "process", None)) and not inspect.isroutine(target):
        return _from_instance(name, target, policies, title)  # an instance made with what it needs
    if not callable(target):
        raise InvalidJobType(name=name, reason="expected a function, a class or an object with process")
    return JobType(name=name, process=target, policies=policies, title=title)


def _with_key(job_type: JobType, key: Any) -> JobType:
    """Attach the ``key=`` option, then refuse ``skip_done`` without a key here, at declaration: a job type
    that cannot remember its items must not wait for its first submit to say so."""
    name = job_type.name
    if key is not None:
        if not callable(key):
            raise InvalidJobType(name=name, reason="key must be a function item -> str")
        if job_type.key is not None:
            raise InvalidJobType(name=name, reason="key is given both as an option and as a method")
        job_type = replace(job_type, key=key)
    if job_type.policies.skip_done is not None and job_type.key is None:
        raise InvalidJobType(
            name=name, reason="skip_done needs an item key: pass key=lambda item: ... or define a key method"
        )
    return job_type


def _from_instance(name: str, instance: Any, policies: Policies, title: str) -> JobType:
    cls = type(instance)
    process = getattr(instance, "process", None)
    if not callable(process):
        raise InvalidJobType(name=name, reason="a job type class needs a process(item, ctx) method")
    params_model = getattr(cls, "Params", None)
    if callable(getattr(instance, "load", None)) and not callable(getattr(instance, "source", None)):
        raise InvalidJobType(name=name, reason="a job type that loads its items (load) needs a source of segments")
    if params_model is not None and not (inspect.isclass(params_model) and issubclass(params_model, BaseModel)):
        raise InvalidJobType(name=name, reason="Params must be a pydantic BaseModel")
    return JobType(
        name=name,
        process=process,
        policies=policies,
        params_model=params_model,
        source=getattr(instance, "source", None),
        write=getattr(instance, "write", None),
        key=getattr(instance, "key", None),
        title=getattr(cls, "title", title),
        load=getattr(instance, "load", None),
        stored_form=getattr(instance, "stored_form", None),
        preview=getattr(instance, "preview", None),
        validate=getattr(instance, "validate", None),
    )
