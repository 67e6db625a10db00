"""Administering users: create them (with a first token, shown once) and set their role and quota."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from batchyard.api.deps import Admin, Auth, EmailEnabled, StoreDep, UserId
from batchyard.api.errors import responses
from batchyard.api.schemas import IssuedTokenOut, NewUserIn, NewUserOut, TokenOut, UserChangeIn, UserOut, UserPage
from batchyard.service.profile import set_email

router = APIRouter(tags=["users"])


@router.get("/users", operation_id="list_users", response_model=UserPage, responses=responses(401, 403, 422))
def list_users(
    _admin: Admin,
    store: StoreDep,
    *,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> UserPage:
    """Every user, oldest first (admins only)."""
    found = store.list_users(after=int(cursor) if cursor else None, limit=limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return UserPage(users=[UserOut.of(u) for u in page], next_cursor=str(page[-1].id) if more else None)


@router.post(
    "/users",
    operation_id="create_user",
    status_code=201,
    response_model=NewUserOut,
    responses=responses(401, 403, 409, 422),
)
def create_user(body: NewUserIn, _admin: Admin, auth: Auth) -> NewUserOut:
    user, issued = auth.create_user(body.name, role=body.role, quota=body.quota, password=body.password)
    token = IssuedTokenOut(**TokenOut.of(issued.token).model_dump(), token=issued.secret)
    return NewUserOut(user=UserOut.of(user), token=token)


@router.patch(
    "/users/{user_id}",
    operation_id="change_user",
    response_model=UserOut,
    responses=responses(401, 403, 404, 422),
)
def change_user(
    user_id: UserId, body: UserChangeIn, _admin: Admin, store: StoreDep, email_enabled: EmailEnabled
) -> UserOut:
    """Set a user's role, balance or e-mail address (null clears it; a server that sends no e-mail refuses
    one)."""
    store.get_user(user_id)
    if "email" in body.model_fields_set:
        set_email(store, user_id, body.email, email_enabled=email_enabled)
    return UserOut.of(store.update_user(user_id, role=body.role, quota=body.quota))
