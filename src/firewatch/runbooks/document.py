"""A runbook as readable Markdown for the person on call: what it answers, how fast, and each
step in order — what it does, whether Firewatch runs it or a person must, and when it applies.

    from firewatch.runbooks.document import to_markdown
    print(to_markdown(library.get("model-unavailable")))
"""

from __future__ import annotations

from firewatch.duration import format_duration
from firewatch.runbooks.schema import Condition, Runbook, Step, StepType

_KIND = {
    StepType.CHECK: "check",
    StepType.ACTION: "action",
    StepType.ESCALATE: "escalate",
}


def who_runs(step: Step) -> str:
    """Every step type of this engine is run by Firewatch (manual checklist steps are issue 6's
    to add); escalation hands over to people."""
    if step.type is StepType.ESCALATE:
        return "automatic — advances the escalation policy (pages the next level)"
    return "automatic"


def _condition(condition: Condition) -> str:
    if condition.mitigated is not None:
        return "the incident is mitigated" if condition.mitigated else "nothing mitigated it yet"
    outcomes = " or ".join(o.value for o in condition.outcome)
    return f"step `{condition.step}` {outcomes}"


def to_markdown(runbook: Runbook) -> str:
    lines = [f"# {runbook.title}", ""]
    if runbook.description:
        lines += [runbook.description.strip(), ""]
    facts = [f"- **Name:** `{runbook.name}`"]
    if runbook.alert:
        facts.append(f"- **Runs on alert:** `{runbook.alert}`")
    if runbook.severity:
        facts.append(f"- **Severity:** {runbook.severity.value}")
    if runbook.response_time:
        facts.append(f"- **Respond within:** {format_duration(runbook.response_time)}")
    facts.append(f"- **Steps:** {len(runbook.steps)}, all run by Firewatch")
    lines += [*facts, "", "## Steps", ""]
    for number, step in enumerate(runbook.steps, 1):
        lines.append(f"{number}. **{step.title}** — {_KIND[step.type]}, {who_runs(step)}")
        if step.uses:
            params = ", ".join(f"{k}={v}" for k, v in step.params.items())
            lines.append(f"   - does: `{step.uses}`" + (f" ({params})" if params else ""))
        if step.when:
            lines.append("   - only when: " + "; ".join(_condition(c) for c in step.when))
        if step.verifies_alert:
            lines.append("   - a pass confirms the alert is real (`verified` on the timeline)")
        if step.on_pass == "mitigate":
            lines.append("   - a pass marks the incident **mitigated**")
        if step.type is not StepType.ESCALATE:
            lines.append(f"   - gives up after {format_duration(step.timeout)}")
    lines += [
        "",
        "Each step's start, result and output are recorded on the incident's timeline "
        "(`firewatch incident show ID`).",
    ]
    return "\n".join(lines) + "\n"
