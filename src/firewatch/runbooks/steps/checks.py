"""Generic checks: an HTTP request, a metric (PromQL or a fresh scrape), a diagnostic command."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx

from firewatch.detect.promql import PrometheusClient, PromQLError
from firewatch.duration import parse_duration
from firewatch.process import describe_exit, last_line, run_process
from firewatch.registry.regions import resolve_base_url
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult
from firewatch.runbooks.steps.hooks import incident_env
from firewatch.runbooks.steps.signals import (
    RATE_SIGNALS,
    SCRAPE_SIGNALS,
    MeasureError,
    measure,
    metrics_url,
    scrape,
)

BODY_EXCERPT = 2048
MAX_SERIES = 20


class ParamError(ValueError):
    """A runbook parameter is wrong (the runbook author's mistake)."""


def _seconds(params: dict[str, Any], name: str, default: float) -> float:
    try:
        seconds = parse_duration(params.get(name, default)).total_seconds()
    except (TypeError, ValueError, AttributeError) as exc:
        raise ParamError(f"parameter {name!r}: {exc}") from None
    if seconds <= 0:
        raise ParamError(f"parameter {name!r} must be positive")
    return seconds


def _number(params: dict[str, Any], name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ParamError(f"parameter {name!r} must be a number, got {raw!r}")
    return float(raw)


def _check_url(ctx: StepContext, params: dict[str, Any], base: str | None) -> str:
    """The URL to check: ``url``, or ``path`` on ``base`` (the active endpoint's URL)."""
    url, path = params.get("url"), params.get("path")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ParamError(f"parameter 'url' must be an absolute http(s) URL, got {url!r}")
        return url
    if not isinstance(path, str) or not path:
        raise ParamError("give parameter 'url' (absolute) or 'path' (appended to the model's url)")
    if base is None:
        raise ParamError(
            f"parameter 'path' needs the model's url, and model {ctx.incident.model} has none; "
            "give an absolute 'url'"
        )
    return base.rstrip("/") + "/" + path.lstrip("/")


def _expected_statuses(params: dict[str, Any]) -> list[int] | None:
    raw = params.get("expect_status")
    if raw is None:
        return None
    statuses = raw if isinstance(raw, list) else [raw]
    if not statuses or not all(isinstance(s, int) and not isinstance(s, bool) for s in statuses):
        raise ParamError(f"parameter 'expect_status' must be a status code or a list, got {raw!r}")
    return statuses


def _expectation_problem(
    response: httpx.Response, statuses: list[int] | None, params: dict[str, Any]
) -> str | None:
    """What about the answer is not as expected, or None."""
    status = response.status_code
    if statuses is None and not 200 <= status < 300:
        return f"status {status}, expected 2xx"
    if statuses is not None and status not in statuses:
        return f"status {status}, expected {' or '.join(map(str, statuses))}"
    body = params.get("expect_body")
    if body is not None and str(body) not in response.text:
        return f"the body does not contain {str(body)!r}"
    wanted = params.get("expect_json")
    if wanted is not None:
        try:
            document = response.json()
        except ValueError:
            return "the body is not JSON"
        if not isinstance(document, dict):
            return "the body is not a JSON object"
        for key, value in wanted.items():
            if key not in document:
                return f"the JSON has no key {key!r}"
            if document[key] != value:
                return f"JSON {key} is {document[key]!r}, expected {value!r}"
    return None


async def http_check(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Sends one HTTP request and passes when the answer is as expected.

    Parameters: ``url`` (absolute) or ``path`` (appended to the model's url), ``method`` (GET),
    ``json`` (a body to send), ``expect_status`` (a code or a list; default any 2xx),
    ``expect_body`` (a substring), ``expect_json`` (top-level keys and their values), ``timeout``
    (5s).
    """
    try:
        url = _check_url(ctx, params, await resolve_base_url(ctx.db, ctx.model))
        statuses = _expected_statuses(params)
        timeout = _seconds(params, "timeout", 5)
        if params.get("expect_json") is not None and not isinstance(params["expect_json"], dict):
            raise ParamError("parameter 'expect_json' must be a mapping of keys to values")
    except ParamError as exc:
        return StepResult(Outcome.FAILED, str(exc))
    method = str(params.get("method", "GET")).upper()
    started = time.perf_counter()
    try:
        response = await ctx.client.request(method, url, json=params.get("json"), timeout=timeout)
    except httpx.TimeoutException:
        return StepResult(
            Outcome.FAILED,
            f"{method} {url}: no answer within {timeout:g}s (service hung or overloaded?)",
            {"url": url, "method": method},
        )
    except httpx.HTTPError as exc:
        return StepResult(
            Outcome.FAILED,
            f"{method} {url} could not connect ({type(exc).__name__}: {exc}); is the service up?",
            {"url": url, "method": method},
        )
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    output = {
        "url": url,
        "method": method,
        "status": response.status_code,
        "latency_ms": latency_ms,
        "body": response.text[:BODY_EXCERPT],
    }
    problem = _expectation_problem(response, statuses, params)
    if problem is not None:
        return StepResult(Outcome.FAILED, f"{method} {url}: {problem}", output)
    return StepResult(
        Outcome.PASSED, f"{method} {url} → {response.status_code} in {latency_ms:g} ms", output
    )


def _bounds(params: dict[str, Any]) -> tuple[float | None, float | None]:
    above, below = _number(params, "above"), _number(params, "below")
    if above is not None and below is not None and above >= below:
        raise ParamError(
            f"parameters 'above' ({above:g}) and 'below' ({below:g}) exclude every value"
        )
    return above, below


def _holds(value: float, above: float | None, below: float | None) -> bool:
    return (above is None or value > above) and (below is None or value < below)


def _expectation(above: float | None, below: float | None) -> str:
    parts = [
        f"> {above:g}" if above is not None else "",
        f"< {below:g}" if below is not None else "",
    ]
    return " and ".join(p for p in parts if p) or "any value"


async def metric_query(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Reads a metric and passes when it is ``above`` and/or ``below`` the given values.

    Either ``promql`` (an instant query against the configured Prometheus; ``${model}`` and
    ``${version}`` are replaced by the incident's; every series returned must satisfy the
    expectation) or ``signal`` (error_rate, latency_mean_s, latency_p95_s, memory_fraction or
    cpu_fraction from two scrapes of the model's metrics_url ``sample`` apart, default 2s).
    """
    try:
        above, below = _bounds(params)
        if ("promql" in params) == ("signal" in params):
            raise ParamError("give exactly one of parameters 'promql' and 'signal'")
        if "promql" in params:
            return await _promql(ctx, params, above, below)
        return await _scraped_signal(ctx, params, above, below)
    except ParamError as exc:
        return StepResult(Outcome.FAILED, str(exc))


async def _promql(
    ctx: StepContext, params: dict[str, Any], above: float | None, below: float | None
) -> StepResult:
    expression = params["promql"]
    if not isinstance(expression, str) or not expression.strip():
        raise ParamError("parameter 'promql' must be a PromQL expression")
    expression = expression.replace("${model}", ctx.incident.model or "").replace(
        "${version}", ctx.incident.model_version or ""
    )
    settings = ctx.config.prometheus
    if settings is None:
        return StepResult(
            Outcome.FAILED,
            "no prometheus: section in the config: add its url to run PromQL checks",
        )
    token_env = settings.bearer_token_env
    prometheus = PrometheusClient(
        str(settings.url),
        client=ctx.client,
        timeout=settings.timeout.total_seconds(),
        bearer_token=os.environ.get(token_env) if token_env else None,
    )
    try:
        found = await prometheus.query(expression)
    except PromQLError as exc:
        return StepResult(Outcome.FAILED, exc.message, {"promql": expression})
    series = [{"labels": s.labels, "value": s.value} for s in found[:MAX_SERIES]]
    output = {"promql": expression, "series": series, "count": len(found)}
    if not found:
        return StepResult(
            Outcome.FAILED,
            f"{expression} returned no series (no data yet, or a wrong label?)",
            output,
        )
    failing = [s for s in found if not _holds(s.value, above, below)]
    want = _expectation(above, below)
    values = ", ".join(f"{s.value:g}" for s in found[:5]) + (" …" if len(found) > 5 else "")
    if failing:
        labels = ",".join(f"{k}={v}" for k, v in sorted(failing[0].labels.items()))
        return StepResult(
            Outcome.FAILED,
            f"{expression} = {failing[0].value:g}{f' {{{labels}}}' if labels else ''}, "
            f"expected {want} ({len(failing)} of {len(found)} series)",
            output,
        )
    return StepResult(Outcome.PASSED, f"{expression} = {values} ({want})", output)


async def _scraped_signal(
    ctx: StepContext, params: dict[str, Any], above: float | None, below: float | None
) -> StepResult:
    signal = params["signal"]
    if signal not in SCRAPE_SIGNALS:
        raise ParamError(
            f"parameter 'signal' must be one of {', '.join(SCRAPE_SIGNALS)}, got {signal!r}"
        )
    sample = _seconds(params, "sample", 2)
    try:
        metrics_url(ctx.model, ctx.incident.model, signal)
        assert ctx.model is not None
        first = await scrape(ctx.client, ctx.model)
        second = first
        if signal != "memory_fraction":
            await asyncio.sleep(sample)
            second = await scrape(ctx.client, ctx.model)
        found = measure(signal, first, second, ctx.model)
    except MeasureError as exc:
        return StepResult(Outcome.FAILED, f"cannot measure {signal}: {exc}")
    output = {
        "signal": signal,
        "value": found.value,
        "requests": found.requests,
        "detail": found.detail,
    }
    if found.value is None:
        return StepResult(
            Outcome.FAILED,
            f"cannot measure {signal}: no requests in the {sample:g}s sample; "
            "is traffic reaching the model? (raise 'sample' for quiet models)",
            output,
        )
    want = _expectation(above, below)
    scope = f" ({found.detail})" if signal in RATE_SIGNALS else ""
    if _holds(found.value, above, below):
        return StepResult(Outcome.PASSED, f"{signal} = {found.value:.4g}{scope} ({want})", output)
    return StepResult(
        Outcome.FAILED, f"{signal} = {found.value:.4g}{scope}, expected {want}", output
    )


def _argv(params: dict[str, Any]) -> list[str]:
    command, shell = params.get("command"), params.get("shell", False)
    if isinstance(command, str):
        if shell is not True:
            raise ParamError(
                "parameter 'command' is a string: give an argv list, or set shell: true "
                "to run it with sh -c"
            )
        return ["sh", "-c", command]
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str | int | float) for part in command)
    ):
        raise ParamError(f"parameter 'command' must be a non-empty argv list, got {command!r}")
    return [str(part) for part in command]


def _expected_exits(params: dict[str, Any]) -> list[int]:
    raw = params.get("expect_exit", [0])
    codes = raw if isinstance(raw, list) else [raw]
    if not codes or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
        raise ParamError(f"parameter 'expect_exit' must be an exit code or a list, got {raw!r}")
    return codes


async def run_command(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Runs a diagnostic command or query and keeps its output on the timeline.

    Parameters: ``command`` (an argv list; a string only with ``shell: true``), ``cwd``, ``env``
    (extra variables), ``expect_exit`` (codes that pass, default [0]), ``timeout`` (optional; the
    step's own timeout applies anyway). The command sees FIREWATCH_INCIDENT, FIREWATCH_MODEL,
    FIREWATCH_VERSION and FIREWATCH_SEVERITY; on timeout its whole process group is killed.
    """
    try:
        argv = _argv(params)
        expected = _expected_exits(params)
        extra = params.get("env", {})
        if not isinstance(extra, dict):
            raise ParamError("parameter 'env' must be a mapping of names to values")
        cwd = params.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ParamError(f"parameter 'cwd' must be a directory path, got {cwd!r}")
        timeout = _seconds(params, "timeout", 1) if "timeout" in params else None
    except ParamError as exc:
        return StepResult(Outcome.FAILED, str(exc))
    env = {**{str(k): str(v) for k, v in extra.items()}, **incident_env(ctx)}
    shown = " ".join(argv)
    output: dict[str, Any] = {"command": argv}
    try:
        result = await run_process(argv, env=env, cwd=Path(cwd) if cwd else None, timeout_s=timeout)
    except TimeoutError:
        return StepResult(
            Outcome.FAILED, f"`{shown}` timed out after {timeout:g}s and was killed", output
        )
    except OSError as exc:
        where = f" in {cwd}" if cwd else ""
        return StepResult(
            Outcome.FAILED,
            f"cannot run `{shown}`{where}: {exc.strerror or exc} "
            "(is the program installed and on PATH? does cwd exist?)",
            output,
        )
    output |= {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "seconds": round(result.seconds, 2),
    }
    said = last_line(result.stdout) or last_line(result.stderr)
    tail = f": {said}" if said else ""
    if result.exit_code in expected:
        return StepResult(Outcome.PASSED, f"`{shown}` → {describe_exit(result)}{tail}", output)
    said = last_line(result.stderr) or last_line(result.stdout) or "no output"
    return StepResult(
        Outcome.FAILED,
        f"`{shown}` → {describe_exit(result)} (expected exit "
        f"{' or '.join(map(str, expected))}): {said}",
        output,
    )
