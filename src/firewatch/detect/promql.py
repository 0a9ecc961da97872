"""Querying a team's existing Prometheus: instant PromQL queries over its HTTP API, as samples.

``GET /api/v1/query`` answers ``{"status": "success", "data": {"resultType", "result"}}`` or
``{"status": "error", "errorType", "error"}`` (HTTP 400 ``bad_data`` for a syntax error, 422
``execution``, 503 ``timeout``/``canceled``/``unavailable``). Instant vectors and scalars are
returned as :class:`Sample` lists; ranges and strings are refused with a :class:`PromQLError`, as
is every failure: Prometheus's own errors carry its ``errorType``, and a server that cannot be
reached is said to be so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

QUERY_PATH = "/api/v1/query"
_BODY_EXCERPT = 200


class PromQLError(Exception):
    """A PromQL query failed: rejected by Prometheus, unreadable answer, or server unreachable.

    ``error_type`` is Prometheus's ``errorType`` (``bad_data``, ``execution``, ``timeout``, …) when
    it gave one, ``unreachable`` when the server could not be reached, ``bad_response`` when its
    answer could not be understood, and ``unsupported`` for a result type ``query`` cannot return.
    ``status_code`` is the HTTP status of the answer, when there was one.
    """

    def __init__(self, message: str, *, error_type: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status_code = status_code


@dataclass(frozen=True)
class Sample:
    """One value of an instant query: the series' labels (empty for a scalar), value and time.

    ``value`` may be ``nan`` or ``±inf``, as Prometheus sends them (``"NaN"``, ``"+Inf"``).
    """

    labels: dict[str, str]
    value: float
    timestamp: datetime


class PrometheusClient:
    """Instant queries against one Prometheus server (``base_url`` may carry a path prefix).

    ``client`` is used as given and not closed here; each request is bounded by ``timeout``
    seconds. ``bearer_token`` is sent as ``Authorization: Bearer …`` (for a Prometheus behind an
    authenticating proxy).
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient,
        timeout: float = 5.0,
        bearer_token: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = timeout
        self._headers = {"Accept": "application/json"}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"

    async def query(self, promql: str, *, at: datetime | None = None) -> list[Sample]:
        """Evaluate ``promql`` at ``at`` (timezone-aware; default: the server's now).

        Returns one sample per series of an instant vector, or a single label-less sample for a
        scalar. Raises :class:`PromQLError` for anything else.
        """
        params: dict[str, str] = {"query": promql}
        if at is not None:
            if at.tzinfo is None or at.utcoffset() is None:
                raise ValueError(f"at must be timezone-aware, got {at.isoformat()}")
            params["time"] = _format_time(at)
        url = self.base_url + QUERY_PATH
        try:
            response = await self._client.get(
                url, params=params, headers=self._headers, timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise PromQLError(
                f"Prometheus at {self.base_url} could not be reached: "
                f"no answer within {self._timeout:g}s",
                error_type="unreachable",
            ) from None
        except httpx.HTTPError as exc:
            raise PromQLError(
                f"Prometheus at {self.base_url} could not be reached: {_describe(exc)}",
                error_type="unreachable",
            ) from exc
        return _parse_response(response, promql)


def _format_time(at: datetime) -> str:
    """Unix seconds with millisecond precision, as the API takes them."""
    return f"{at.timestamp():.3f}"


def _describe(exc: httpx.HTTPError) -> str:
    """The network failure in the words an operator searches for."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _parse_response(response: httpx.Response, promql: str) -> list[Sample]:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        excerpt = response.text[:_BODY_EXCERPT]
        raise PromQLError(
            f"Prometheus answered HTTP {status} without a JSON body: {excerpt!r}",
            error_type="bad_response",
            status_code=status,
        ) from None
    if not isinstance(body, dict):
        raise _bad_response(f"the body is not a JSON object: {body!r:.{_BODY_EXCERPT}}", status)
    if body.get("status") == "error":
        error_type = str(body.get("errorType") or "unknown")
        message = str(body.get("error") or "no error message")
        raise PromQLError(
            f"Prometheus rejected the query {promql!r} (HTTP {status}, {error_type}): {message}",
            error_type=error_type,
            status_code=status,
        )
    if body.get("status") != "success" or status >= 300:
        raise _bad_response(f"unexpected answer: {str(body)[:_BODY_EXCERPT]}", status)
    data = body.get("data")
    if not isinstance(data, dict):
        raise _bad_response("no data object in a successful answer", status)
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "vector":
        if not isinstance(result, list):
            raise _bad_response("a vector result is not a list", status)
        return [_vector_sample(item, status) for item in result]
    if result_type == "scalar":
        value, timestamp = _point(result, status)
        return [Sample(labels={}, value=value, timestamp=timestamp)]
    if result_type in ("matrix", "string"):
        what = "a range vector (matrix)" if result_type == "matrix" else "a string"
        raise PromQLError(
            f"the query {promql!r} returns {what}; query() takes expressions that return an "
            "instant vector or a scalar (drop the [range] selector, or wrap it in a function "
            "such as rate())",
            error_type="unsupported",
            status_code=status,
        )
    raise _bad_response(f"unknown resultType {result_type!r}", status)


def _vector_sample(item: Any, status: int) -> Sample:
    if not isinstance(item, dict):
        raise _bad_response(f"a vector element is not an object: {item!r}", status)
    metric = item.get("metric", {})
    if not isinstance(metric, dict):
        raise _bad_response(f"a series' labels are not an object: {metric!r}", status)
    if "value" not in item:
        if "histogram" in item:
            raise PromQLError(
                "the query returns native histogram samples, which are not supported; "
                "query a classic histogram's buckets or a function of it instead",
                error_type="unsupported",
                status_code=status,
            )
        raise _bad_response(f"a vector element has no value: {item!r}", status)
    value, timestamp = _point(item["value"], status)
    labels = {str(name): str(label) for name, label in metric.items()}
    return Sample(labels=labels, value=value, timestamp=timestamp)


def _point(raw: Any, status: int) -> tuple[float, datetime]:
    """``[unix_seconds, "value"]`` → (value, time); the value may be NaN or ±Inf."""
    if not isinstance(raw, list) or len(raw) != 2:
        raise _bad_response(f"a sample is not [time, value]: {raw!r}", status)
    raw_time, raw_value = raw
    if isinstance(raw_time, bool) or not isinstance(raw_time, int | float):
        raise _bad_response(f"a sample's time is not a number: {raw_time!r}", status)
    if not isinstance(raw_value, str):
        raise _bad_response(f"a sample's value is not a string: {raw_value!r}", status)
    try:
        value = float(raw_value)
    except ValueError:
        raise _bad_response(f"a sample's value is not a number: {raw_value!r}", status) from None
    if not math.isfinite(raw_time):
        raise _bad_response(f"a sample's time is not finite: {raw_time!r}", status)
    return value, datetime.fromtimestamp(raw_time, tz=UTC)


def _bad_response(detail: str, status: int) -> PromQLError:
    return PromQLError(
        f"Prometheus answered HTTP {status} with a body that is not a query result: {detail}",
        error_type="bad_response",
        status_code=status,
    )
