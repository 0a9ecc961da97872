"""Domain errors: each carries an HTTP status, a stable code and details, shown as-is to users."""

from __future__ import annotations

from typing import Any, ClassVar


class FirewatchError(Exception):
    """Base of every error a user can cause; the API and CLI render it without a traceback."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error response."""
        return {}


class InvalidInput(FirewatchError):
    status = 422
    default_code = "invalid_input"


class NotFound(FirewatchError):
    status = 404
    default_code = "not_found"


class Conflict(FirewatchError):
    """The request is valid but the current state does not allow it (e.g. a transition)."""

    status = 409
    default_code = "conflict"


class Unauthorized(FirewatchError):
    status = 401
    default_code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(FirewatchError):
    status = 403
    default_code = "forbidden"


class Overloaded(FirewatchError):
    """Firewatch is too far behind to take more now; nothing of the request was kept."""

    status = 503
    default_code = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ConfigError(FirewatchError):
    """The configuration file is missing, unreadable or invalid."""

    default_code = "invalid_config"
