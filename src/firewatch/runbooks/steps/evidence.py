"""Evidence checks a runbook runs mid-run: the service's error log lines, drift and data quality
now, and samples of failing requests (the seed's "check logs", "check if data drift detected",
"sample failing requests")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firewatch.duration import format_duration
from firewatch.runbooks import investigation
from firewatch.runbooks import logs as model_logs
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult

if TYPE_CHECKING:
    from firewatch.detect.events import Failures


_NOT_IN_SERVER = "only the running Firewatch server knows the {0} of {1}"


async def collect_logs(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when the model's recent log lines hold crash, database or application errors."""
    model = ctx.incident.model
    source = ctx.model.logs if ctx.model is not None else None
    if source is None:
        return StepResult(
            Outcome.SKIPPED,
            f"no log source configured for model {model} (models[].logs: file, command or url)",
        )
    evidence = await model_logs.collect_logs(
        source, client=ctx.client, lines=int(params.get("lines", source.lines))
    )
    output = evidence.details()
    read = evidence.read
    found = evidence.errors.describe()
    if found:
        return StepResult(
            Outcome.PASSED, f"{found} in the last {len(read.lines)} lines of {read.source}", output
        )
    if read.problem and not read.lines:
        return StepResult(Outcome.FAILED, f"could not read the logs: {read.problem}", output)
    return StepResult(
        Outcome.FAILED,
        f"no crash, database or application errors in the last {len(read.lines)} lines of "
        f"{read.source}" + (f" ({read.problem})" if read.problem else ""),
        output,
    )


async def drift_status(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when data drift or data-quality findings are present for the model now."""
    model = ctx.incident.model
    if model is None:
        return StepResult(Outcome.FAILED, "the incident names no model")
    sources = ctx.evidence
    if sources is None:
        return StepResult(Outcome.FAILED, _NOT_IN_SERVER.format("drift state", model))
    findings = sources.drift(model)
    if findings is None:
        return StepResult(
            Outcome.FAILED, f"drift is not monitored for {model} (no models[].drift in the config)"
        )
    if findings.judged_at is None:
        return StepResult(
            Outcome.FAILED,
            f"drift of {model} not judged yet: too few recent events, or no reference yet",
        )
    output = investigation.drift_details(findings)
    phrase = investigation.drift_phrase(findings)
    present = (
        findings.features
        or findings.prediction_drift
        or findings.label_drift
        or findings.quality_findings
    )
    if present:
        return StepResult(Outcome.PASSED, f"{phrase} for {model}", output)
    return StepResult(
        Outcome.FAILED, f"no data drift or data-quality findings for {model} now", output
    )


async def error_samples(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when failing requests were seen; the output holds samples and the error types."""
    model = ctx.incident.model
    if model is None:
        return StepResult(Outcome.FAILED, "the incident names no model")
    sources = ctx.evidence
    if sources is None:
        return StepResult(Outcome.FAILED, _NOT_IN_SERVER.format("failed requests", model))
    failures = sources.failures(model)
    if failures is None or not failures.requests:
        return _without_events(model, failures, sources.signals(model).get("error_rate"))
    shown = int(params.get("samples", investigation.SAMPLES_SHOWN))
    output = investigation.failures_details(failures, samples=shown)
    span = format_duration(failures.window)
    if not failures.errors:
        return StepResult(
            Outcome.FAILED,
            f"no failing requests among {failures.requests:,} in the last {span}",
            output,
        )
    return StepResult(
        Outcome.PASSED,
        f"{failures.errors:,} of {failures.requests:,} requests failed in the last {span} "
        f"(by error type: {investigation.by_type_phrase(failures)})",
        output,
    )


def _without_events(model: str, failures: Failures | None, rate: float | None) -> StepResult:
    """No inference events to sample: a scraped error rate still shows requests failing."""
    when = f" in the last {format_duration(failures.window)}" if failures else " yet"
    hint = f"the service posts them to /api/v1/models/{model}/events"
    if rate:
        return StepResult(
            Outcome.PASSED,
            f"{investigation.percent(rate)} of requests are failing (error rate from its metrics); no samples: "
            f"no inference events from {model}{when} ({hint})",
            {"error_rate": rate, "samples": []},
        )
    return StepResult(
        Outcome.FAILED,
        f"no inference events from {model}{when}, so no failing requests to sample ({hint})",
        {"error_rate": rate, "samples": []},
    )
