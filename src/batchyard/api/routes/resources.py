"""The resources a server knows: their fields, types, display names and keys (what an import's column mapping
and an export's column choice are made from)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from batchyard.api.deps import CurrentUser
from batchyard.api.errors import responses
from batchyard.api.schemas import Out
from batchyard.core.resources import Resource

router = APIRouter(tags=["resources"])


class ResourceFieldOut(Out):
    name: str
    kind: str
    required: bool
    nullable: bool
    max_length: int | None
    decimal_places: int | None
    titles: dict[str, str]


class ResourceOut(BaseModel):
    name: str
    key: list[str]
    fields: list[ResourceFieldOut]

    @classmethod
    def of(cls, resource: Resource) -> ResourceOut:
        fields = [ResourceFieldOut.of(f) for f in resource.fields]
        return cls(name=resource.name, key=list(resource.key), fields=fields)


@router.get("/resources", operation_id="list_resources", response_model=list[ResourceOut], responses=responses(401))
async def list_resources(request: Request, _user: CurrentUser) -> list[ResourceOut]:
    resources: dict[str, Resource] = request.app.state.resources
    return [ResourceOut.of(resources[name]) for name in sorted(resources)]
