"""Errors leave the API as ``{"error": {"code", "message", "details"}}``, the message in the caller's language
(``Accept-Language``: zh-CN or en), with the HTTP status each error code stands for."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from batchyard.errors import BatchyardError, InvalidParams

STATUS: dict[str, int] = {
    "not_signed_in": 401,
    "sign_in_failed": 401,
    "forbidden": 403,
    "upload_forbidden": 403,
    "read_only_role": 403,
    "admin_only": 403,
    "job_not_found": 404,
    "user_not_found": 404,
    "token_not_found": 404,
    "notification_not_found": 404,
    "webhook_not_found": 404,
    "webhook_url_refused": 422,
    "too_many_webhooks": 409,
    "too_many_new_webhooks": 429,
    "ping_too_soon": 429,
    "email_not_configured": 422,
    "unknown_job_type": 422,
    "conflict": 409,
    "user_exists": 409,
    "illegal_transition": 409,
    "nothing_to_retry": 409,
    "submission_stopped": 409,
    "invalid_params": 422,
    "too_many_items": 422,
    "no_items": 422,
    "schedule_not_found": 404,
    "schedule_exists": 409,
    "date_range_reversed": 422,
    "date_range_too_long": 422,
    "too_many_sign_ins": 429,
    "quota_insufficient": 403,
    "rate_limited": 429,
    "too_many_active_jobs": 429,
    "database_unavailable": 503,
    "blob_not_found": 404,
    "blob_storage_error": 503,
    "invalid_blob_key": 422,
    "file_too_large": 413,
    "empty_file": 422,
    "unsupported_file_type": 422,
    "image_too_large": 422,
    "image_damaged": 422,
    "image_too_large_for_format": 422,
    "no_files": 422,
    "wrong_form_field": 422,
    "files_rejected": 422,
    "upload_not_found": 404,
    "uploads_gone": 409,
    "artifact_not_found": 404,
    "nothing_to_download": 400,
    "no_item_output": 404,
    "invalid_expression": 422,
    "expression_failed": 422,
    "invalid_schedule": 422,
    "rollback_refused": 409,
    "update_not_published": 409,
    "too_many_rejects": 422,
    "verification_failed": 409,
    "range_not_found": 404,
    "migrate_source_not_allowed": 422,
    "no_report": 404,
}
_HTTP_CODES = {400: "bad_request", 401: "not_signed_in", 404: "not_found", 405: "method_not_allowed"}
# Errors whose details say where files are kept and what the storage answered: logged, not sent.
PRIVATE_DETAILS = {"blob_not_found", "blob_storage_error"}
_STORAGE = {
    False: "The file storage is not available just now; try again shortly.",
    True: "文件存储暂时不可用，请稍后重试。",
}
log = logging.getLogger("batchyard.api")
_HTTP_MESSAGES_ZH = {"bad_request": "请求无效。", "not_found": "没有这个地址。", "method_not_allowed": "不支持此方法。"}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(BaseModel):
    """Every error response: a stable code for programs, a message for people, and what it is about."""

    error: ErrorBody


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route documents, each with the envelope's schema."""
    return {status: {"model": ErrorEnvelope} for status in statuses}


def language(request: Request) -> str:
    """zh-CN when the caller prefers Chinese to English (by ``q`` weight, then order), else en."""
    weights: dict[str, float] = {}
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, *options = (piece.strip() for piece in part.split(";"))
        quality = next((_quality(o[2:]) for o in options if o.startswith("q=")), 1.0)
        for prefix, name in (("zh", "zh-CN"), ("en", "en")):
            if tag.lower().startswith(prefix) and quality > 0 and name not in weights:
                weights[name] = quality - position * 1e-6
    return max(weights, key=weights.__getitem__) if weights else "en"


def _zh(request: Request) -> bool:
    return language(request).lower().startswith("zh")


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def error_response(request: Request, exc: BatchyardError, status: int | None = None) -> JSONResponse:
    status = status or STATUS.get(exc.code, 500)
    details = {} if exc.code in PRIVATE_DETAILS else exc.details
    message = exc.message(language(request))
    if exc.code in PRIVATE_DETAILS:
        log.warning("%s: %s", exc.code, exc)  # where it was kept and what failed: for the operators, not callers
        message = type(exc)().message(language(request)) if exc.code == "blob_not_found" else _STORAGE[_zh(request)]
    body = ErrorEnvelope(error=ErrorBody(code=exc.code, message=message, details=details))
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(BatchyardError)
    def _batchyard(request: Request, exc: BatchyardError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # without the rejected input: it may be a password
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        errors = jsonable_encoder(errors)
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return error_response(request, InvalidParams(reason=reason, errors=errors))

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if _unreadable_body(exc):
            return error_response(request, _body_not_json())
        code = _HTTP_CODES.get(exc.status_code, "error")
        zh = _HTTP_MESSAGES_ZH.get(code)
        message = zh if zh and language(request) == "zh-CN" else str(exc.detail)
        body = ErrorEnvelope(error=ErrorBody(code=code, message=message))
        return JSONResponse(jsonable_encoder(body), status_code=exc.status_code, headers=exc.headers)


def _unreadable_body(exc: HTTPException) -> bool:
    """FastAPI's 400 for a body that JSON cannot even decode (not UTF-8, nested too deep for the parser)."""
    return exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError))


def _body_not_json() -> InvalidParams:
    """The answer FastAPI gives malformed JSON it can decode (422), so that one mistake has one answer."""
    errors = [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]
    return InvalidParams(reason="body: JSON decode error", errors=errors)
