"""Domain errors: each carries its HTTP status, a stable code and safe messages (zh, en)."""

from __future__ import annotations


class GridgovError(Exception):
    """Base of every error the API may show to a client."""

    status = 400
    code = "bad_request"
    message_zh = "请求有误"
    message_en = "The request is not valid"

    def __init__(
        self,
        message_en: str | None = None,
        message_zh: str | None = None,
        *,
        field: str | None = None,
    ) -> None:
        self.message_en = message_en or self.message_en
        self.message_zh = message_zh or self.message_zh
        self.field = field
        super().__init__(self.message_en)

    def message(self, language: str) -> str:
        """The message in 'zh-Hans' or 'en'."""
        return self.message_en if language == "en" else self.message_zh


class InvalidInput(GridgovError):
    """Input that passed type checks but breaks a rule (names the field)."""

    status = 422
    code = "invalid_input"
    message_zh = "输入不符合要求"
    message_en = "The input is not valid"


class NotAuthenticated(GridgovError):
    """No valid credentials were presented."""

    status = 401
    code = "not_authenticated"
    message_zh = "请先登录"
    message_en = "Authentication is required"


class PermissionDenied(GridgovError):
    """The account may not do this, or not in this area."""

    status = 403
    code = "permission_denied"
    message_zh = "无权访问"
    message_en = "You are not allowed to do this"


class NotFound(GridgovError):
    """The object does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"
    message_zh = "未找到"
    message_en = "Not found"


class TooLarge(GridgovError):
    """The request body or an uploaded file is over its size limit."""

    status = 413
    code = "too_large"
    message_zh = "内容过大"
    message_en = "The content is too large"


class Conflict(GridgovError):
    """The request clashes with stored data (duplicate, concurrent change)."""

    status = 409
    code = "conflict"
    message_zh = "与已有数据冲突"
    message_en = "The request conflicts with stored data"


class ServiceUnavailable(GridgovError):
    """A dependency (the database) cannot be reached."""

    status = 503
    code = "service_unavailable"
    message_zh = "服务暂时不可用，请稍后重试"
    message_en = "The service is temporarily unavailable; try again shortly"


class TooManyRequests(GridgovError):
    """A rate limit was reached; `retry_after` seconds until the window ends."""

    status = 429
    code = "too_many_requests"
    message_zh = "请求过于频繁，请稍后再试"
    message_en = "Too many requests; try again later"

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(
            f"Too many {scope} requests; try again in {retry_after} s",
            f"请求过于频繁，请 {retry_after} 秒后再试",
        )
        self.retry_after = retry_after


class Banned(GridgovError):
    """The address or account is on the ban list."""

    status = 403
    code = "banned"
    message_zh = "该地址或账号已被限制访问"
    message_en = "This address or account is blocked"
