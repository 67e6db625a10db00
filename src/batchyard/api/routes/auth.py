"""Signing in, the caller, and the caller's tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from batchyard.api.deps import Auth, BearerSecret, CurrentUser, EmailEnabled, StoreDep, TokenId
from batchyard.api.errors import responses
from batchyard.api.schemas import (
    IssuedTokenOut,
    LedgerEntryOut,
    LedgerPage,
    MeChangeIn,
    NewTokenIn,
    SignInIn,
    SignInOut,
    TokenOut,
    UserOut,
)
from batchyard.errors import TokenNotFound
from batchyard.service.profile import set_email

router = APIRouter(tags=["sign-in"])


@router.post(
    "/auth/login",
    operation_id="sign_in",
    response_model=SignInOut,
    responses=responses(401, 422, 429),
)
def sign_in(body: SignInIn, request: Request, auth: Auth) -> SignInOut:
    """An expiring bearer token for a user name and password. Failed sign-ins are limited per user name and
    per address (429 with `Retry-After`)."""
    address = request.client.host if request.client else "unknown"
    issued = auth.sign_in(body.username, body.password, address)
    user = auth.store.get_user(issued.token.user_id)
    return SignInOut(token=issued.secret, expires_at=issued.token.expires_at, user=UserOut.of(user))


@router.post("/auth/logout", operation_id="sign_out", status_code=204, responses=responses(401))
def sign_out(secret: BearerSecret, auth: Auth) -> None:
    """End the session of the token this request carries (the dashboard's sign-out); other tokens live on."""
    auth.sign_out(secret or "")


@router.get("/me", operation_id="me", response_model=UserOut, responses=responses(401))
def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)


@router.patch("/me", operation_id="change_me", response_model=UserOut, responses=responses(401, 422))
def change_me(body: MeChangeIn, user: CurrentUser, store: StoreDep, email_enabled: EmailEnabled) -> UserOut:
    """Set the caller's e-mail address for notices (null clears it); a server that sends no e-mail refuses one
    (422 `email_not_configured`)."""
    if "email" in body.model_fields_set:
        user = set_email(store, user.id, body.email, email_enabled=email_enabled)
    return UserOut.of(user)


@router.get("/me/ledger", operation_id="my_ledger", response_model=LedgerPage, responses=responses(401, 422))
def my_ledger(
    user: CurrentUser,
    store: StoreDep,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> LedgerPage:
    """Every move of the caller's quota balance, newest first: charges, refunds, grants."""
    found = store.ledger(user.id, before=int(cursor) if cursor else None, limit=limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return LedgerPage(entries=[LedgerEntryOut.of(e) for e in page], next_cursor=str(page[-1].id) if more else None)


@router.get("/me/tokens", operation_id="my_tokens", response_model=list[TokenOut], responses=responses(401))
def my_tokens(user: CurrentUser, store: StoreDep) -> list[TokenOut]:
    return [TokenOut.of(t) for t in store.list_tokens(user.id)]


@router.post(
    "/me/tokens",
    operation_id="create_my_token",
    status_code=201,
    response_model=IssuedTokenOut,
    responses=responses(401, 422),
)
def create_my_token(body: NewTokenIn, user: CurrentUser, auth: Auth) -> IssuedTokenOut:
    """A named API token, shown once, valid until revoked."""
    issued = auth.issue_token(user, body.name)
    return IssuedTokenOut(**TokenOut.of(issued.token).model_dump(), token=issued.secret)


@router.delete(
    "/me/tokens/{token_id}",
    operation_id="revoke_my_token",
    status_code=204,
    responses=responses(401, 404, 422),
)
def revoke_my_token(token_id: TokenId, user: CurrentUser, store: StoreDep) -> None:
    if not store.revoke_token(user.id, token_id):
        raise TokenNotFound(token_id=token_id)
