"""The job types a yard knows, by name."""

from __future__ import annotations

from collections.abc import Iterator

from batchyard.core.jobtype import JobType
from batchyard.errors import DuplicateJobType, UnknownJobType


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}
        self._replaceable: set[str] = set()  # built-in types, which an app's own of the same name replaces

    def add(self, job_type: JobType, *, replaceable: bool = False) -> None:
        name = job_type.name
        if name in self._types and name not in self._replaceable:
            raise DuplicateJobType(name=name)
        self._types[name] = job_type
        if replaceable:
            self._replaceable.add(name)
        else:
            self._replaceable.discard(name)

    def remove(self, name: str) -> None:
        """Leave a job type out (a built-in one an app does not offer)."""
        self.get(name)
        del self._types[name]
        self._replaceable.discard(name)

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
