"""A runbook as readable Markdown for the person on call: what it answers, how fast, and each
step in order — what it does, whether Firewatch runs it or a person must, and when it applies.

    from firewatch.runbooks.document import to_markdown
    print(to_markdown(library.get("model-unavailable")))
"""

from __future__ import annotations

from firewatch.config import ActionPolicy
from firewatch.duration import format_duration
from firewatch.runbooks.engine import action_kind
from firewatch.runbooks.schema import Condition, Runbook, Step, StepType
from firewatch.severity import Severity


def who_runs(step: Step, policy: ActionPolicy) -> str:
    """Who carries the step out: Firewatch, Firewatch after a person approves, or a person."""
    if step.type is StepType.ESCALATE:
        return "automatic — advances the escalation policy (pages the next level)"
    if step.type is StepType.MANUAL:
        return "**a person** ticks it" + (" (the runbook waits for it)" if step.blocking else "")
    if step.type is StepType.CHECK:
        return "automatic"
    if step.approval is not None:
        return "automatic" if not step.approval else "**needs approval** by a person"
    kind = action_kind(step)
    alone = [sev.value for sev in Severity if policy.allows(sev, kind)]
    if len(alone) == len(Severity):
        return "automatic"
    if not alone:
        return f"**needs approval** by a person ({kind})"
    return f"automatic for {', '.join(alone)}; **needs approval** otherwise ({kind})"


def _condition(condition: Condition) -> str:
    if condition.mitigated is not None:
        return "the incident is mitigated" if condition.mitigated else "nothing mitigated it yet"
    if condition.severity is not None:
        return "severity is " + " or ".join(s.value for s in condition.severity)
    outcomes = " or ".join(o.value for o in condition.outcome)
    text = f"step `{condition.step}` {outcomes}"
    if condition.output:
        text += " with " + ", ".join(f"{k}={v}" for k, v in condition.output.items())
    return text


def to_markdown(runbook: Runbook, policy: ActionPolicy | None = None) -> str:
    policy = policy or ActionPolicy()
    lines = [f"# {runbook.title}", ""]
    if runbook.description:
        lines += [runbook.description.strip(), ""]
    facts = [f"- **Name:** `{runbook.name}`"]
    if runbook.alert:
        facts.append("- **Runs on alert:** " + ", ".join(f"`{a}`" for a in runbook.alert))
    if runbook.severity:
        facts.append(f"- **Severity:** {runbook.severity.value}")
    if runbook.response_time:
        facts.append(f"- **Respond within:** {format_duration(runbook.response_time)}")
    manual = sum(step.type is StepType.MANUAL for step in runbook.steps)
    facts.append(
        f"- **Steps:** {len(runbook.steps)}"
        + (f", {manual} of them manual (a person ticks them)" if manual else ", all automatic")
    )
    lines += [*facts, "", "## Steps", ""]
    for number, step in enumerate(runbook.steps, 1):
        lines.append(f"{number}. **{step.title}** — {step.type.value}, {who_runs(step, policy)}")
        if step.details:
            lines.append(f"   - {step.details.strip()}")
        if step.uses:
            params = ", ".join(f"{k}={v}" for k, v in step.params.items())
            lines.append(f"   - does: `{step.uses}`" + (f" ({params})" if params else ""))
        if step.when:
            lines.append("   - only when: " + "; ".join(_condition(c) for c in step.when))
        if step.verifies_alert:
            lines.append("   - a pass confirms the alert is real (`verified` on the timeline)")
        if step.on_pass == "mitigate":
            lines.append("   - a pass marks the incident **mitigated**")
        for outcome, target in step.next.items():
            lines.append(f"   - when {outcome.value}: go to `{target}`")
        if step.type is StepType.MANUAL and step.blocking:
            lines.append(f"   - the runbook waits up to {format_duration(step.time_limit)}")
        elif step.type in (StepType.CHECK, StepType.ACTION):
            lines.append(f"   - gives up after {format_duration(step.time_limit)}")
    lines += [
        "",
        "Each step's start, result and output are recorded on the incident's timeline "
        "(`firewatch incident show ID`).",
    ]
    return "\n".join(lines) + "\n"
