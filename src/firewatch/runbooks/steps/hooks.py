"""The ``hook`` action (a configured command or webhook) and running a child process safely.

Children run in a session of their own so that a timeout or a cancelled step kills the whole
process group (a ``sh -c`` and whatever it started), never leaving orphans behind.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import orjson

from firewatch.clock import SystemClock
from firewatch.config import HookConfig
from firewatch.process import describe_exit, last_line, run_process
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult
from firewatch.signing import signing_key, standard_webhook_signature

HOOK_ACTIONS = (
    "restart",
    "scale",
    "config_change",
    "pipeline_restart",
    "data_rollback",
    "retrain",
    "custom",
)
"""The policy kinds a ``hook`` step may declare with its ``action`` parameter."""

_RESPONSE_EXCERPT = 2048


def incident_env(ctx: StepContext) -> dict[str, str]:
    """The incident, as the environment variables every command Firewatch runs receives."""
    incident = ctx.incident
    return {
        "FIREWATCH_INCIDENT": incident.display_id,
        "FIREWATCH_MODEL": incident.model or "",
        "FIREWATCH_VERSION": incident.model_version or "",
        "FIREWATCH_SEVERITY": incident.severity,
    }


async def hook(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Calls a hook named under ``runbooks.hooks``: restart or scale a service, apply a
    configuration change, restart a data pipeline, roll back a data version, trigger retraining.

    Parameters: ``hook`` (the name), ``action`` (its policy kind: restart, scale, config_change,
    pipeline_restart, data_rollback, retrain or custom; default custom) and ``args`` (a mapping
    passed as the webhook body's ``args`` or the command's ``FIREWATCH_ARGS``). Passes when the
    command exits 0 or the webhook answers 2xx. With ``optional: true`` (the built-in runbooks'
    hooks) a hook the config does not name is skipped, not failed: the team has no such lever.
    """
    name = params.get("hook")
    hooks = ctx.settings.hooks
    configured = ", ".join(sorted(hooks)) or "none"
    if not isinstance(name, str) or not name:
        return StepResult(
            Outcome.FAILED, f"parameter 'hook' must name a hook under runbooks.hooks ({configured})"
        )
    config = hooks.get(name)
    if config is None and params.get("optional") is True:
        return StepResult(
            Outcome.SKIPPED,
            f"no hook {name!r} configured (runbooks.hooks.{name}: a command or webhook); "
            "do it by hand if it applies",
        )
    if config is None:
        return StepResult(
            Outcome.FAILED,
            f"no hook named {name!r} under runbooks.hooks (configured: {configured}); "
            "add it to the config or fix the runbook",
        )
    action = params.get("action", "custom")
    if action not in HOOK_ACTIONS:
        return StepResult(
            Outcome.FAILED,
            f"parameter 'action' is {action!r}; expected one of {', '.join(HOOK_ACTIONS)}",
        )
    args = params.get("args", {})
    if not isinstance(args, dict):
        return StepResult(Outcome.FAILED, "parameter 'args' must be a mapping of names to values")
    target = _target(config)
    if ctx.dry_run:
        return StepResult(
            Outcome.PASSED,
            f"would run hook {name} ({action}): {target}",
            {"hook": name, "action": action, "args": args, "target": target, "dry_run": True},
        )
    if config.command is not None:
        return await _run_command_hook(ctx, name, action, args, config, config.command)
    return await _call_webhook(ctx, name, action, args, config)


def _target(config: HookConfig) -> str:
    if config.command is not None:
        return " ".join(config.command)
    url = httpx.URL(str(config.url))  # shown without credentials or query: they may be secret
    return f"{config.method} {url.scheme}://{url.netloc.decode()}{url.path}"


async def _run_command_hook(
    ctx: StepContext,
    name: str,
    action: str,
    args: dict[str, Any],
    config: HookConfig,
    command: list[str],
) -> StepResult:
    env = {
        **config.env,
        **incident_env(ctx),
        "FIREWATCH_HOOK": name,
        "FIREWATCH_ACTION": action,
        "FIREWATCH_ARGS": orjson.dumps(args).decode(),
    }
    timeout = config.timeout.total_seconds()
    output: dict[str, Any] = {"hook": name, "action": action, "command": command}
    try:
        result = await run_process(command, env=env, cwd=config.cwd, timeout_s=timeout)
    except TimeoutError:
        return StepResult(
            Outcome.FAILED,
            f"hook {name} ({action}) timed out after {timeout:g}s and was killed; "
            "check what it was waiting for, or raise its timeout",
            output,
        )
    except OSError as exc:
        return StepResult(
            Outcome.FAILED,
            f"hook {name} could not start {command[0]!r}: {exc.strerror or exc} "
            "(is it installed and on PATH? does its cwd exist?)",
            output,
        )
    output |= {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "seconds": round(result.seconds, 2),
    }
    if result.exit_code == 0:
        return StepResult(
            Outcome.PASSED, f"hook {name} ({action}) succeeded in {result.seconds:.1f}s", output
        )
    said = last_line(result.stderr) or last_line(result.stdout) or "no output"
    return StepResult(
        Outcome.FAILED,
        f"hook {name} ({action}) failed ({describe_exit(result)}): {said}",
        output,
    )


async def _call_webhook(
    ctx: StepContext, name: str, action: str, args: dict[str, Any], config: HookConfig
) -> StepResult:
    incident = ctx.incident
    body = orjson.dumps(
        {
            "hook": name,
            "action": action,
            "args": args,
            "incident": {
                "id": incident.display_id,
                "severity": incident.severity,
                "model": incident.model,
                "version": incident.model_version,
            },
            "sent_at": ctx.clock.now().isoformat(),
        }
    )
    target = _target(config)
    output: dict[str, Any] = {"hook": name, "action": action, "request": target}
    try:
        headers = _webhook_headers(config, body)
    except ValueError as exc:
        return StepResult(Outcome.FAILED, f"hook {name}: {exc}", output)
    timeout = config.timeout.total_seconds()
    try:
        response = await ctx.client.request(
            config.method, str(config.url), content=body, headers=headers, timeout=timeout
        )
    except httpx.TimeoutException:
        return StepResult(
            Outcome.FAILED,
            f"hook {name} ({action}): {target} did not answer within {timeout:g}s; "
            "the action may or may not have happened — check the receiving service",
            output,
        )
    except httpx.HTTPError as exc:
        return StepResult(
            Outcome.FAILED,
            f"hook {name} ({action}): {target} could not be reached ({type(exc).__name__}: "
            f"{exc}); is the receiving service up?",
            output,
        )
    excerpt = response.text[:_RESPONSE_EXCERPT]
    output |= {"status": response.status_code, "response": excerpt}
    if response.is_success:
        return StepResult(
            Outcome.PASSED, f"hook {name} ({action}): {target} → {response.status_code}", output
        )
    return StepResult(
        Outcome.FAILED,
        f"hook {name} ({action}): {target} answered HTTP {response.status_code}: "
        f"{last_line(excerpt) or 'no body'}",
        output,
    )


def _webhook_headers(config: HookConfig, body: bytes) -> dict[str, str]:
    """Content type, extra headers, bearer token and Standard Webhooks signature; ValueError
    naming the environment variable when a secret is missing or malformed."""
    msg_id = f"msg_{uuid.uuid4().hex}"
    headers = {**config.headers, "Content-Type": "application/json", "Idempotency-Key": msg_id}
    if config.bearer_token_env:
        headers["Authorization"] = f"Bearer {_env_secret(config.bearer_token_env, 'token')}"
    if config.secret_env:
        secret = _env_secret(config.secret_env, "signing secret")
        try:
            key = signing_key(secret)
        except ValueError as exc:
            raise ValueError(f"environment variable {config.secret_env}: {exc}") from None
        # Receivers compare the timestamp with their own clock: it must be the real time.
        timestamp = int(SystemClock().now().timestamp())
        headers["webhook-id"] = msg_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = standard_webhook_signature(key, msg_id, timestamp, body)
    return headers


def _env_secret(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise ValueError(
            f"environment variable {variable} ({what}) is not set in Firewatch's environment"
        )
    return value
