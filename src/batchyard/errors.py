"""The one exception root of batchyard, with a stable code and a message in English and Chinese per error.

Each class's docstring is its English message template; ``_ZH`` holds the Chinese one. Templates are filled
from ``details``, so the API can render the message in the caller's language long after the error was raised.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BatchyardError(Exception):
    """Something went wrong in batchyard."""

    code: ClassVar[str] = "error"
    # Shown to people as the message alone, without the class name a failed item's reason otherwise starts with
    # (a row's reasons go to a spreadsheet user, who has no use for "RowRejected:").
    bare: ClassVar[bool] = False
    # An item failing with it means the whole job has failed: the job stops (as with ``on_error="stop"``) and
    # ends ``failed``, never retried (an atomic update that cannot publish).
    fails_job: ClassVar[bool] = False

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.details = details
        self._message = message
        super().__init__(self.message("en"))

    def message(self, language: str = "en") -> str:
        """The message in ``language`` ("en" or "zh-CN"), filled from the details."""
        if self._message is not None:
            return self._message
        template = _ZH.get(self.code) if language.lower().startswith("zh") else None
        template = template or (type(self).__doc__ or self.code).strip()
        try:
            return template.format(**self.details)
        except (KeyError, IndexError, ValueError):
            return template


class ConfigurationError(BatchyardError):
    """The configuration is invalid: {reason}"""

    code = "configuration_error"


class UnknownJobType(BatchyardError):
    """There is no job type named {name!r}."""

    code = "unknown_job_type"


class DuplicateJobType(BatchyardError):
    """A job type named {name!r} is already registered."""

    code = "duplicate_job_type"


class InvalidJobType(BatchyardError):
    """Job type {name!r} is not valid: {reason}"""

    code = "invalid_job_type"


class InvalidResource(BatchyardError):
    """Resource {name!r} is not valid: {reason}"""

    code = "invalid_resource"


class InvalidParams(BatchyardError):
    """The parameters are not valid: {reason}"""

    code = "invalid_params"


class TooManyItems(BatchyardError):
    """A job of type {type!r} takes at most {limit} items; it has {count}."""

    code = "too_many_items"


class NoItems(BatchyardError):
    """The job has no items to process."""

    code = "no_items"


class ScheduleNotFound(BatchyardError):
    """Schedule {schedule_id} does not exist."""

    code = "schedule_not_found"


class ScheduleExists(BatchyardError):
    """You have a schedule named {name!r} already; choose another name."""

    code = "schedule_exists"


class DateRangeReversed(BatchyardError):
    """The range starts on {start} ({start_field}), after it ends on {end} ({end_field})."""

    code = "date_range_reversed"


class DateRangeTooLong(BatchyardError):
    """A range may span at most {max_days} days; {start} to {end} spans {days}."""

    code = "date_range_too_long"


class JobNotFound(BatchyardError):
    """Job {job_id} does not exist."""

    code = "job_not_found"


class Conflict(BatchyardError):
    """Job {job_id} is already active for {key!r}; wait for it to finish or cancel it."""

    code = "conflict"


class IllegalTransition(BatchyardError):
    """Job {job_id} is {status}; it cannot {action}."""

    code = "illegal_transition"


class NothingToRetry(BatchyardError):
    """Job {job_id} has no failed items to retry."""

    code = "nothing_to_retry"


class SubmissionStopped(NothingToRetry):
    """Job {job_id} has no failed items to retry; its submission stopped at item {stopped_at}: {reason}"""

    code = "submission_stopped"


class SubmissionInterrupted(BatchyardError):
    """Job {job_id} stopped taking items after {stored} of them: {reason}"""

    code = "submission_interrupted"


class LeaseLost(BatchyardError):
    """The lease on chunk {chunk_id} was lost; another worker owns it now."""

    code = "lease_lost"


class ItemTimedOut(BatchyardError):
    """The item took longer than {seconds:g}s (its job type's timeout)."""

    code = "item_timed_out"


class RowRejected(BatchyardError):
    """{reason}"""

    code = "row_rejected"
    bare = True


class DuplicateRow(BatchyardError):
    """the key {key} is in the table already, or earlier in the file"""

    code = "duplicate_row"
    bare = True


class ValueRefused(BatchyardError):
    """the database refused a value: {reason}"""

    code = "value_refused"
    bare = True


class CellTooLong(BatchyardError):
    """Row {row} has text longer than the {limit:,} characters a spreadsheet cell holds; export it as CSV."""

    code = "cell_too_long"


class ChunkChanged(BatchyardError):
    """The chunk's items could not be read as planned: {expected} expected, {found} found (its file changed)."""

    code = "chunk_changed"


class StorageError(BatchyardError):
    """The database failed: {reason}"""

    code = "storage_error"


class DatabaseUnavailable(StorageError):
    """The database is unavailable for now ({reason}); the work waits and is retried."""

    code = "database_unavailable"


class SchemaOutOfDate(BatchyardError):
    """The database schema is not up to date; run `batchyard db upgrade`."""

    code = "schema_out_of_date"


class NotSignedIn(BatchyardError):
    """Sign in first: send a valid token as `Authorization: Bearer <token>`."""

    code = "not_signed_in"


class SignInFailed(BatchyardError):
    """The user name or the password is wrong."""

    code = "sign_in_failed"


class TooManySignIns(BatchyardError):
    """Too many failed sign-ins; try again in {retry_after} seconds."""

    code = "too_many_sign_ins"


class Forbidden(BatchyardError):
    """Job {job_id} belongs to another user."""

    code = "forbidden"


class UploadForbidden(Forbidden):
    """Upload {upload_id} belongs to another user."""

    code = "upload_forbidden"


class ReadOnlyRole(BatchyardError):
    """A viewer can read jobs but not submit or change them."""

    code = "read_only_role"


class AdminOnly(BatchyardError):
    """Only an administrator may do this."""

    code = "admin_only"


class UserExists(BatchyardError):
    """A user named {name!r} already exists."""

    code = "user_exists"


class UserNotFound(BatchyardError):
    """User {user!r} does not exist."""

    code = "user_not_found"


class TokenNotFound(BatchyardError):
    """You have no live token {token_id}."""

    code = "token_not_found"


class QuotaInsufficient(BatchyardError):
    """This needs {cost} quota; your balance is {balance} ({shortfall} short)."""

    code = "quota_insufficient"


class RateLimited(BatchyardError):
    """You may submit {limit} {type!r} jobs per {period}; try again in {retry_after} seconds."""

    code = "rate_limited"


class TooManyActiveJobs(BatchyardError):
    """You already have {limit} active {type!r} jobs; wait for one to finish."""

    code = "too_many_active_jobs"


class NotificationNotFound(BatchyardError):
    """You have no notification {notification_id}."""

    code = "notification_not_found"


class WebhookNotFound(BatchyardError):
    """You have no webhook {webhook_id}."""

    code = "webhook_not_found"


class WebhookUrlRefused(BatchyardError):
    """The webhook URL is refused: {reason}"""

    code = "webhook_url_refused"


class TooManyWebhooks(BatchyardError):
    """You already have {limit} webhooks; delete one first."""

    code = "too_many_webhooks"


class TooManyNewWebhooks(BatchyardError):
    """You have made {limit} webhooks in the last 24 hours; try again in {retry_after} seconds."""

    code = "too_many_new_webhooks"


class PingTooSoon(BatchyardError):
    """Webhook {webhook_id} was pinged less than {interval} seconds ago; try again in {retry_after} seconds."""

    code = "ping_too_soon"


class EmailNotConfigured(BatchyardError):
    """This server sends no e-mail (no SMTP server is configured), so no address can be set."""

    code = "email_not_configured"


class BlobStorageError(StorageError):
    """The file storage failed: {reason}"""

    code = "blob_storage_error"


class BlobNotFound(BatchyardError):
    """A stored file is missing (deleted, expired or lost by the file storage)."""

    code = "blob_not_found"


class InvalidBlobKey(BatchyardError):
    """{key!r} is not a valid name for a stored file: {reason}"""

    code = "invalid_blob_key"


class FileTooLarge(BatchyardError):
    """The file is larger than the limit of {limit_mb:g} MB."""

    code = "file_too_large"


class EmptyFile(BatchyardError):
    """The file is empty."""

    code = "empty_file"


class UnsupportedFileType(BatchyardError):
    """The file's content is {found}; accepted here: {accepted}."""

    def __init__(self, message: str | None = None, **details: object) -> None:
        details.setdefault("found_zh", details.get("found", ""))  # a label with no Chinese name reads as is
        super().__init__(message, **details)

    code = "unsupported_file_type"


class ImageTooLarge(BatchyardError):
    """The image is {width}×{height} pixels; at most {limit:,} pixels are accepted."""

    code = "image_too_large"


class ImageDamaged(BatchyardError):
    """The image is truncated or damaged and cannot be decoded."""

    code = "image_damaged"


class ImageTooLargeForFormat(BatchyardError):
    """The image is {width}×{height} pixels; {format} holds at most {limit:,} a side: use another format or max_side."""

    code = "image_too_large_for_format"


class WrongFormField(BatchyardError):
    """Files are taken from form fields named `files`; this one came in `{field}`."""

    code = "wrong_form_field"


class NoFiles(BatchyardError):
    """The request holds no files; send one or more as multipart form fields named `files`."""

    code = "no_files"


class FilesRejected(BatchyardError):
    """None of the {count} files was accepted; each one's reason is in the details."""

    code = "files_rejected"


class UploadNotFound(BatchyardError):
    """Upload {upload_id} does not exist (or has expired)."""

    code = "upload_not_found"


class UploadsGone(BatchyardError):
    """Job {job_id} cannot be retried: {count} of the files it reads have expired and were deleted."""

    code = "uploads_gone"


class ArtifactNotFound(BatchyardError):
    """Artifact {artifact_id} does not exist (or has expired)."""

    code = "artifact_not_found"


class NoItemOutput(BatchyardError):
    """Item {index} of job {job_id} has no output file."""

    code = "no_item_output"


class NothingToDownload(BatchyardError):
    """Job {job_id} has no output files to download."""

    code = "nothing_to_download"


class InvalidExpression(BatchyardError):
    """The expression for {field!r} is not valid: {reason}"""

    code = "invalid_expression"


class ExpressionFailed(BatchyardError):
    """The expression for {field!r} could not be computed for this row: {reason}"""

    code = "expression_failed"
    bare = True  # a row's failure reason: it names the field already


class InvalidSchedule(BatchyardError):
    """The schedule is not valid: {reason}"""

    code = "invalid_schedule"


class RollbackRefused(BatchyardError):
    """Job {job_id} cannot be rolled back: {reason}"""

    code = "rollback_refused"


class UpdateNotPublished(BatchyardError):
    """{failed} rows could not be computed; an atomic update publishes all rows or none, so none was changed"""

    code = "update_not_published"
    bare = True
    fails_job = True


class TooManyRejects(BatchyardError):
    """{rejected} rows were rejected, over the limit of {limit}; the migration stopped (see rejects.csv)"""

    code = "too_many_rejects"
    bare = True


class VerificationFailed(BatchyardError):
    """{rows} rows differ between the source and the target, in {ranges} range(s); re-copy those ranges"""

    code = "verification_failed"
    bare = True


class RangeNotFound(BatchyardError):
    """Job {job_id} has no copied range {range}."""

    code = "range_not_found"


class MigrateSourceNotAllowed(BatchyardError):
    """This server does not allow migrations from {source}; an administrator lists the databases a migration may
    read in {setting}."""

    code = "migrate_source_not_allowed"


class NoReport(BatchyardError):
    """Job {job_id} is a {type!r} job, which keeps no migration report."""

    code = "no_report"


_ZH: dict[str, str] = {
    "error": "batchyard 出错了。",
    "configuration_error": "配置无效：{reason}",
    "unknown_job_type": "不存在名为 {name!r} 的任务类型。",
    "duplicate_job_type": "名为 {name!r} 的任务类型已注册。",
    "invalid_job_type": "任务类型 {name!r} 无效：{reason}",
    "invalid_params": "参数无效：{reason}",
    "invalid_resource": "资源 {name!r} 无效：{reason}",
    "too_many_items": "{type!r} 类型的任务最多 {limit} 项，实际有 {count} 项。",
    "no_items": "任务没有可处理的项目。",
    "schedule_not_found": "计划 {schedule_id} 不存在。",
    "schedule_exists": "已有名为 {name!r} 的计划；请换一个名称。",
    "date_range_reversed": "开始日期 {start}（{start_field}）晚于结束日期 {end}（{end_field}）。",
    "date_range_too_long": "日期范围最多 {max_days} 天；{start} 至 {end} 共 {days} 天。",
    "job_not_found": "任务 {job_id} 不存在。",
    "conflict": "{key!r} 已有进行中的任务 {job_id}；请等待其完成或先取消它。",
    "illegal_transition": "任务 {job_id} 当前状态为 {status}，无法{action}。",
    "nothing_to_retry": "任务 {job_id} 没有可重试的失败项。",
    "submission_stopped": "任务 {job_id} 没有可重试的失败项；其提交在第 {stopped_at} 项处中止：{reason}",
    "submission_interrupted": "任务 {job_id} 在接收 {stored} 项后停止接收：{reason}",
    "lease_lost": "分块 {chunk_id} 的租约已失效，已由其他 worker 接管。",
    "item_timed_out": "该项目的处理时间超过了 {seconds:g} 秒（任务类型的超时设置）。",
    "row_rejected": "{reason_zh}",
    "duplicate_row": "键 {key} 已存在于表中，或在文件中重复出现",
    "value_refused": "数据库拒绝了某个值：{reason}",
    "cell_too_long": "第 {row} 行有文本超过单元格可容纳的 {limit:,} 个字符；请导出为 CSV。",
    "chunk_changed": "无法按计划读取该批次：应有 {expected} 项，实际 {found} 项（文件已变化）。",
    "storage_error": "数据库出错：{reason}",
    "database_unavailable": "数据库暂时不可用（{reason}）；工作将等待并重试。",
    "schema_out_of_date": "数据库结构不是最新的，请运行 `batchyard db upgrade`。",
    "not_signed_in": "请先登录：以 `Authorization: Bearer <令牌>` 发送有效的令牌。",
    "sign_in_failed": "用户名或密码错误。",
    "too_many_sign_ins": "登录失败次数过多，请在 {retry_after} 秒后重试。",
    "forbidden": "任务 {job_id} 属于其他用户。",
    "upload_forbidden": "上传的文件 {upload_id} 属于其他用户。",
    "read_only_role": "查看者只能查看任务，不能提交或更改任务。",
    "admin_only": "只有管理员可以执行此操作。",
    "user_exists": "名为 {name!r} 的用户已存在。",
    "user_not_found": "用户 {user!r} 不存在。",
    "token_not_found": "您没有有效的令牌 {token_id}。",
    "notification_not_found": "您没有通知 {notification_id}。",
    "webhook_not_found": "您没有 Webhook {webhook_id}。",
    "webhook_url_refused": "Webhook 地址不被接受：{reason_zh}",
    "too_many_webhooks": "您已有 {limit} 个 Webhook，请先删除一个。",
    "too_many_new_webhooks": "您在 24 小时内已创建 {limit} 个 Webhook，请在 {retry_after} 秒后重试。",
    "ping_too_soon": "Webhook {webhook_id} 在 {interval} 秒内已测试过，请在 {retry_after} 秒后重试。",
    "email_not_configured": "此服务器未配置 SMTP 服务器，不发送电子邮件，因此无法设置邮箱地址。",
    "quota_insufficient": "需要 {cost} 配额，您的余额为 {balance}（还差 {shortfall}）。",
    "rate_limited": "每{period_zh}最多提交 {limit} 个 {type!r} 任务，请在 {retry_after} 秒后重试。",
    "too_many_active_jobs": "您已有 {limit} 个进行中的 {type!r} 任务，请等待其中一个完成。",
    "blob_not_found": "存储的文件不存在（已删除、已过期或被文件存储丢失）。",
    "blob_storage_error": "文件存储出错：{reason}",
    "invalid_blob_key": "{key!r} 不是有效的存储文件名：{reason}",
    "file_too_large": "文件超过了 {limit_mb:g} MB 的上限。",
    "empty_file": "文件是空的。",
    "unsupported_file_type": "文件内容为{found_zh}；此处只接受：{accepted}。",
    "image_too_large": "图片为 {width}×{height} 像素；最多接受 {limit:,} 像素。",
    "image_damaged": "图片不完整或已损坏，无法解码。",
    "image_too_large_for_format": (
        "图片为 {width}×{height} 像素；{format} 格式每边最多 {limit:,} 像素（请换一种输出格式或设置 max_side）。"
    ),
    "no_files": "请求中没有文件；请以名为 `files` 的 multipart 表单字段发送一个或多个文件。",
    "wrong_form_field": "文件应放在名为 `files` 的表单字段中；此文件在 `{field}` 中。",
    "files_rejected": "{count} 个文件均未被接受；每个文件的原因见 details。",
    "upload_not_found": "上传的文件 {upload_id} 不存在（或已过期）。",
    "uploads_gone": "任务 {job_id} 无法重试：它读取的文件中有 {count} 个已过期并被删除。",
    "artifact_not_found": "产出文件 {artifact_id} 不存在（或已过期）。",
    "nothing_to_download": "任务 {job_id} 没有可下载的产出文件。",
    "no_item_output": "任务 {job_id} 的第 {index} 项没有产出文件。",
    "invalid_expression": "字段 {field!r} 的表达式无效：{reason_zh}",
    "expression_failed": "字段 {field!r} 的表达式无法对此行求值：{reason_zh}",
    "invalid_schedule": "计划无效：{reason_zh}",
    "rollback_refused": "任务 {job_id} 无法回滚：{reason_zh}",
    "update_not_published": "有 {failed} 行无法计算；原子更新要么全部发布、要么都不发布，因此没有修改任何行",
    "too_many_rejects": "被拒绝的行有 {rejected} 行，超过上限 {limit}；迁移已停止（见 rejects.csv）",
    "verification_failed": "源与目标有 {rows} 行不一致，分布在 {ranges} 个区间；请重新复制这些区间",
    "range_not_found": "任务 {job_id} 没有已复制的区间 {range}。",
    "migrate_source_not_allowed": "本服务器不允许从 {source} 迁移；可迁移的数据库由管理员在 {setting} 中列出。",
    "no_report": "任务 {job_id} 是 {type!r} 任务，没有迁移报告。",
}
