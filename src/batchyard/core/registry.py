"""The job types a yard knows, by name."""

from __future__ import annotations

from collections.abc import Iterator

from batchyard.core.jobtype import JobType
from batchyard.errors import DuplicateJobType, UnknownJobType


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def add(self, job_type: JobType) -> None:
        if job_type.name in self._types:
            raise DuplicateJobType(name=job_type.name)
        self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownJobType(name=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())

    @property
    def names(self) -> list[str]:
        return sorted(self._types)
