"""Alert processing: a batch of alerts becomes alert state and incident changes, in one transaction.

Per batch: fingerprint, keep the last word per fingerprint, deduplicate against what is already
firing, suppress (silences, maintenance windows, inhibition — kept, never dropped), group the
rest by ``group_by`` (default: one open incident per model) and open or attach — one timeline
entry per incident per batch, however many alerts arrive — then write the rows in bulk and
schedule the auto-resolve of incidents whose alerts all cleared.

`PipelineState` is what the processor remembers between batches, bounded: recently seen alerts
(an LRU; misses are read from the database in one query per batch), computed fingerprints, and
the firing alerts that inhibit others.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from firewatch.alerts.fingerprint import fingerprint
from firewatch.alerts.matchers import parse_matchers
from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.alerts.silences import active_silences
from firewatch.alerts.suppression import (
    CompiledInhibitRule,
    InhibitRule,
    MaintenanceWindow,
    Suppressor,
    compile_rules,
    default_inhibit_rules,
)
from firewatch.errors import Conflict
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import OPEN_STATUSES
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.service import SYSTEM, Actor
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.severity import Classification, Severity, SeverityPolicy, Signals, effective_severity
from firewatch.store import jobs as job_table

AUTO_RESOLVE_JOB = "incident.auto_resolve"
LAST_SEEN_EVERY = timedelta(seconds=30)  # a repeat refreshes last_seen_at at most this often
SIGNALS_KEPT = 50  # signal entries kept on an incident (the count of the rest is kept)
_OPEN = [s.value for s in OPEN_STATUSES]


class Outcome(StrEnum):
    OPENED = "opened"  # opened a new incident
    ATTACHED = "attached"  # joined an open incident
    UPDATED = "updated"  # already firing: deduplicated
    SUPPRESSED = "suppressed"  # silenced, in maintenance or inhibited: kept, no incident
    RESOLVED = "resolved"  # cleared
    ACKNOWLEDGED = "acknowledged"  # PagerDuty acknowledge: the incident was acknowledged
    IGNORED = "ignored"  # a clear or acknowledge for an alert that is not firing


@dataclass
class ProcessResult:
    fingerprint: str
    outcome: Outcome
    incident: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AlertPolicy:
    """How alerts become incidents (from the config)."""

    severity: SeverityPolicy
    group_by: tuple[str, ...] = ("model",)
    resolve_quiet_period: timedelta = timedelta(minutes=5)
    auto_resolve: bool = True
    runbook_response: Callable[[str], timedelta | None] = field(default=lambda _name: None)
    inhibit_rules: tuple[InhibitRule, ...] = tuple(default_inhibit_rules())
    maintenance: tuple[MaintenanceWindow, ...] = ()


@dataclass
class Known:
    row_id: int
    status: str
    incident_id: int | None
    suppressed_by: str | None
    last_seen_at: datetime


class PipelineState:
    """What processing remembers between batches; every part is bounded."""

    def __init__(self, policy: AlertPolicy, *, max_known: int = 100_000) -> None:
        self.rules: list[CompiledInhibitRule] = compile_rules(policy.inhibit_rules)
        self.sources: list[dict[tuple[str, ...], str]] = [{} for _ in self.rules]
        self.known: OrderedDict[str, Known] = OrderedDict()
        self.fingerprints: OrderedDict[tuple[tuple[str, str], ...], str] = OrderedDict()
        self.max_known = max_known
        self.warm = False

    def remember(self, fp: str, known: Known) -> None:
        self.known[fp] = known
        self.known.move_to_end(fp)
        if len(self.known) > self.max_known:
            self.known.popitem(last=False)

    def fingerprint_of(self, alert: Alert) -> str:
        if alert.fingerprint:
            return alert.fingerprint
        if alert.dedup_key:  # PagerDuty: a dedup key is unique per integration (routing key)
            scope = {"source": alert.labels["source"], "dedup_key": alert.dedup_key}
            return fingerprint({**scope, "integration": alert.labels.get("integration", "")})
        key = tuple(sorted(alert.labels.items()))
        found = self.fingerprints.get(key)
        if found is None:
            found = self.fingerprints[key] = fingerprint(alert.labels)
            if len(self.fingerprints) > self.max_known:
                self.fingerprints.popitem(last=False)
        return found


def group_key(alert: Alert, group_by: Sequence[str]) -> str:
    """``model=iris`` by default; Alertmanager-style ``group_by`` over any labels."""
    return ",".join(f"{name}={alert.labels.get(name, '')}" for name in group_by)


def process_alerts(
    session: Session,
    *,
    alerts: Sequence[Alert],
    now: datetime,
    policy: AlertPolicy,
    state: PipelineState | None = None,
) -> list[ProcessResult]:
    """Apply a batch of alerts in the caller's transaction; one result per distinct alert."""
    state = state or PipelineState(policy)
    if not state.warm:
        _warm(session, state)
    return _Batch(session, now, policy, state).run(alerts)


class _Batch:
    def __init__(
        self, session: Session, now: datetime, policy: AlertPolicy, state: PipelineState
    ) -> None:
        self.session, self.now, self.policy, self.state = session, now, policy, state
        self.suppressor = Suppressor(
            silences=active_silences(session, now=now),
            windows=[
                (w.name, parse_matchers(w.matchers)) for w in policy.maintenance if w.active(now)
            ],
            rules=state.rules,
            sources=state.sources,
        )
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.pending: dict[str, list[tuple[str, Alert, Classification, ProcessResult]]] = (
            defaultdict(list)
        )
        self.cleared: dict[int, list[Alert]] = defaultdict(list)
        self.released: list[str] = []
        self.incidents: dict[int, IncidentRow] = {}
        self.classified: dict[str | None, Classification] = {}

    def run(self, alerts: Sequence[Alert]) -> list[ProcessResult]:
        latest: dict[str, Alert] = {}
        for alert in alerts:
            fp = self.state.fingerprint_of(alert)
            latest.pop(fp, None)
            latest[fp] = alert
        known = self._lookup(list(latest))
        self._load_incidents({k.incident_id for k in known.values() if k.incident_id})
        results = []
        for fp, alert in latest.items():
            if alert.status is AlertStatus.FIRING:
                results.append(self._fire(fp, alert, known.get(fp)))
            elif alert.status is AlertStatus.RESOLVED:
                results.append(self._resolve(fp, alert, known.get(fp)))
            else:
                results.append(self._acknowledge(fp, alert, known.get(fp)))
        self._attach_groups()
        self._write_rows()
        self._after_clears()
        if self.released:
            results += self._revive()
        return results

    # -- reading ---------------------------------------------------------------------------------

    def _lookup(self, fps: list[str]) -> dict[str, Known]:
        found = {fp: self.state.known[fp] for fp in fps if fp in self.state.known}
        missing = [fp for fp in fps if fp not in found]
        for chunk in _chunks(missing, 900):
            rows = self.session.execute(
                select(
                    AlertRow.fingerprint,
                    AlertRow.id,
                    AlertRow.status,
                    AlertRow.incident_id,
                    AlertRow.suppressed_by,
                    AlertRow.last_seen_at,
                ).where(AlertRow.fingerprint.in_(chunk))
            ).all()
            for fp, row_id, status, incident_id, suppressed_by, last_seen in rows:
                found[fp] = Known(row_id, status, incident_id, suppressed_by, last_seen)
                self.state.remember(fp, found[fp])
        return found

    def _load_incidents(self, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self.incidents]
        for chunk in _chunks(missing, 900):
            for row in self.session.scalars(select(IncidentRow).where(IncidentRow.id.in_(chunk))):
                self.incidents[row.id] = row

    def _open_incident(self, incident_id: int | None) -> IncidentRow | None:
        row = self.incidents.get(incident_id) if incident_id else None
        return row if row is not None and row.status in _OPEN else None

    # -- the three kinds of alert ----------------------------------------------------------------

    def _fire(self, fp: str, alert: Alert, known: Known | None) -> ProcessResult:
        classification = self._classify(alert)
        self.suppressor.source_fired(alert.labels, fp)
        incident = self._open_incident(known.incident_id) if known else None
        if known is not None and known.status == AlertStatus.FIRING and incident is not None:
            self._raise(incident, classification.severity, alert)
            self._touch(fp, known, alert)
            return ProcessResult(fp, Outcome.UPDATED, incident.display_id)
        reason = self.suppressor.reason(alert.labels, fp)
        if reason is not None:
            if (
                known is not None
                and known.status == AlertStatus.FIRING
                and known.suppressed_by == reason
            ):
                self._touch(fp, known, alert)
            else:
                self._store(fp, alert, known, classification.severity, None, reason)
            return ProcessResult(fp, Outcome.SUPPRESSED, reason=reason)
        result = ProcessResult(fp, Outcome.ATTACHED)
        self.pending[group_key(alert, self.policy.group_by)].append(
            (fp, alert, classification, result)
        )
        return result

    def _resolve(self, fp: str, alert: Alert, known: Known | None) -> ProcessResult:
        if known is None or known.status != AlertStatus.FIRING:
            return ProcessResult(fp, Outcome.IGNORED)
        ends = alert.ends_at or self.now
        self.updates.append(
            {
                "id": known.row_id,
                "status": AlertStatus.RESOLVED.value,
                "ends_at": ends,
                "last_seen_at": self.now,
            }
        )
        known.status, known.last_seen_at = AlertStatus.RESOLVED.value, self.now
        if self.suppressor.source_cleared(alert.labels, fp):
            self.released.append(fp)
        incident = self._open_incident(known.incident_id)
        if incident is not None:
            self.cleared[incident.id].append(alert)
        return ProcessResult(fp, Outcome.RESOLVED, incident.display_id if incident else None)

    def _acknowledge(self, fp: str, alert: Alert, known: Known | None) -> ProcessResult:
        incident = self._open_incident(known.incident_id) if known else None
        if incident is None:
            return ProcessResult(fp, Outcome.IGNORED)
        with contextlib.suppress(Conflict):  # already acknowledged: idempotent, as in PagerDuty
            incident_service.acknowledge(
                self.session, incident=incident, actor=Actor(alert.labels["source"]), now=self.now
            )
        return ProcessResult(fp, Outcome.ACKNOWLEDGED, incident.display_id)

    # -- grouping --------------------------------------------------------------------------------

    def _attach_groups(self) -> None:
        if not self.pending:
            return
        open_by_group: dict[str, IncidentRow] = {}
        for chunk in _chunks(list(self.pending), 900):
            for row in self.session.scalars(
                select(IncidentRow).where(
                    IncidentRow.group_key.in_(chunk), IncidentRow.status.in_(_OPEN)
                )
            ):
                open_by_group[row.group_key or ""] = row
                self.incidents[row.id] = row
        for key, items in self.pending.items():
            items.sort(key=lambda item: item[2].severity.rank)
            incident = open_by_group.get(key)
            attached = items
            if incident is None:
                fp, alert, classification, result = items[0]
                incident = self._open(key, fp, alert, classification)
                result.outcome = Outcome.OPENED
                attached = items[1:]
            if attached:
                self._record_attached(incident, attached)
            for fp, alert, classification, result in items:
                result.incident = incident.display_id
                self._store(
                    fp, alert, self.state.known.get(fp), classification.severity, incident.id, None
                )

    def _open(self, key: str, fp: str, alert: Alert, classification: Classification) -> IncidentRow:
        runbook = alert.annotations.get("runbook") or None
        why = f"Severity {classification.severity}: " + "; ".join(classification.reasons) + "."
        description = f"{alert.annotations.get('description', '')}\n\n{why}".strip()
        incident = incident_service.open_incident(
            self.session,
            title=_summary(alert),
            severity=classification.severity,
            now=self.now,
            policy=self.policy.severity,
            actor=SYSTEM,
            description=description,
            model=alert.model,
            model_version=alert.labels.get("version"),
            source=alert.labels["source"],
            signals=[_signal_entry(alert, fp, classification.reasons)],
            labels=dict(alert.labels),
            group_key=key,
            runbook=runbook,
            runbook_response=self.policy.runbook_response(runbook) if runbook else None,
            details={
                "alertname": alert.alertname,
                "fingerprint": fp,
                "reasons": classification.reasons,
                "starts_at": alert.starts_at.isoformat(),
            },
        )
        self.incidents[incident.id] = incident
        return incident

    def _record_attached(
        self, incident: IncidentRow, items: list[tuple[str, Alert, Classification, ProcessResult]]
    ) -> None:
        if len(items) == 1:
            alert = items[0][1]
            text = f"Alert {alert.alertname} fired: {_summary(alert)}"
        else:
            text = f"{len(items)} alerts fired: {_counted(a.alertname for _, a, _, _ in items)}"
        record(
            self.session,
            incident,
            kind=TimelineKind.ALERT_ATTACHED,
            text=text,
            actor=items[0][1].labels["source"],
            at=self.now,
            details={
                "count": len(items),
                "alerts": [
                    {"fingerprint": fp, "labels": a.labels, "signals": _signals(a)}
                    for fp, a, _, _ in items[:20]
                ],
            },
        )
        kept = list(incident.signals)
        room = SIGNALS_KEPT - len(kept)
        if room > 0:
            kept += [_signal_entry(a, fp, c.reasons) for fp, a, c, _ in items[:room]]
            incident.signals = kept
        top = min((c.severity for _, _, c, _ in items), key=lambda s: s.rank)
        self._raise(incident, top, items[0][1])

    def _raise(self, incident: IncidentRow, severity: Severity, alert: Alert) -> None:
        if severity.is_higher_than(Severity(incident.severity)):
            incident_service.set_severity(
                self.session,
                incident=incident,
                severity=severity,
                actor=SYSTEM,
                now=self.now,
                policy=self.policy.severity,
                reason=f"alert {alert.alertname} is {severity}",
            )

    def _classify(self, alert: Alert) -> Classification:
        if alert.signals is not None:
            return effective_severity(alert.severity, alert.signals, self.policy.severity)
        key = alert.labels.get("severity")
        if key not in self.classified:
            self.classified[key] = effective_severity(
                alert.severity, Signals(), self.policy.severity
            )
        return self.classified[key]

    # -- writing ---------------------------------------------------------------------------------

    def _touch(self, fp: str, known: Known, alert: Alert) -> None:
        if self.now - known.last_seen_at >= LAST_SEEN_EVERY:
            self.updates.append({"id": known.row_id, "last_seen_at": self.now})
            known.last_seen_at = self.now

    def _store(
        self,
        fp: str,
        alert: Alert,
        known: Known | None,
        severity: Severity,
        incident_id: int | None,
        suppressed_by: str | None,
    ) -> None:
        values = {
            "alertname": alert.alertname,
            "model": alert.model,
            "source": alert.labels["source"],
            "severity": severity.value,
            "status": AlertStatus.FIRING.value,
            "suppressed_by": suppressed_by,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "signals": _signals(alert),
            "starts_at": alert.starts_at,
            "ends_at": None,
            "last_seen_at": self.now,
            "incident_id": incident_id,
        }
        if known is None:
            self.inserts.append({"fingerprint": fp, **values})
            self.state.known.pop(fp, None)
        else:
            self.updates.append({"id": known.row_id, **values})
            known.status, known.incident_id = AlertStatus.FIRING.value, incident_id
            known.suppressed_by, known.last_seen_at = suppressed_by, self.now

    def _write_rows(self) -> None:
        if self.inserts:
            rows = self.session.execute(
                insert(AlertRow).returning(AlertRow.id, AlertRow.fingerprint), self.inserts
            ).all()
            by_fp = {fp: row_id for row_id, fp in rows}
            for values in self.inserts:
                self.state.remember(
                    values["fingerprint"],
                    Known(
                        by_fp[values["fingerprint"]],
                        values["status"],
                        values["incident_id"],
                        values["suppressed_by"],
                        self.now,
                    ),
                )
        by_keys: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
        for values in self.updates:
            by_keys[frozenset(values)].append(values)
        for group in by_keys.values():
            self.session.execute(update(AlertRow), group)

    def _after_clears(self) -> None:
        if not self.cleared:
            return
        still_firing = set(
            self.session.scalars(
                select(AlertRow.incident_id)
                .where(
                    AlertRow.incident_id.in_(list(self.cleared)),
                    AlertRow.status == AlertStatus.FIRING.value,
                )
                .group_by(AlertRow.incident_id)
            )
        )
        for incident_id, alerts in self.cleared.items():
            incident = self.incidents[incident_id]
            text = (
                f"Alert {alerts[0].alertname} cleared"
                if len(alerts) == 1
                else f"{len(alerts)} alerts cleared: {_counted(a.alertname for a in alerts)}"
            )
            record(
                self.session,
                incident,
                kind=TimelineKind.ALERT_RESOLVED,
                text=text,
                actor=alerts[0].labels["source"],
                at=self.now,
                details={"count": len(alerts)},
            )
            if self.policy.auto_resolve and incident_id not in still_firing:
                job_table.enqueue_job(
                    self.session,
                    kind=AUTO_RESOLVE_JOB,
                    key=f"autoresolve:{incident_id}:{self.now.isoformat()}",
                    payload={
                        "incident_id": incident_id,
                        "quiet_period_s": self.policy.resolve_quiet_period.total_seconds(),
                    },
                    due_at=self.now + self.policy.resolve_quiet_period,
                    now=self.now,
                    incident_id=incident_id,
                )

    def _revive(self) -> list[ProcessResult]:
        """Alerts that were inhibited by a source that just cleared, and still fire: process again."""
        revived: list[Alert] = []
        for fp in self.released:
            rows = self.session.scalars(
                select(AlertRow).where(
                    AlertRow.status == AlertStatus.FIRING.value,
                    AlertRow.suppressed_by == f"inhibited:{fp}",
                )
            )
            revived += [
                Alert(
                    labels=dict(r.labels),
                    starts_at=r.starts_at,
                    annotations=dict(r.annotations),
                    signals=Signals.model_validate(r.signals) if r.signals else None,
                    fingerprint=r.fingerprint,
                )
                for r in rows
            ]
        if not revived:
            return []
        return _Batch(self.session, self.now, self.policy, self.state).run(revived)


def _warm(session: Session, state: PipelineState) -> None:
    """Load the firing alerts that inhibit others (after a restart) into the state."""
    names = {
        m.value
        for rule in state.rules
        for m in rule.source
        if m.name == "alertname" and m.is_equal and not m.is_regex
    }
    query = select(AlertRow.fingerprint, AlertRow.labels).where(
        AlertRow.status == AlertStatus.FIRING.value
    )
    if names and all(
        any(m.name == "alertname" and m.is_equal and not m.is_regex for m in r.source)
        for r in state.rules
    ):
        query = query.where(AlertRow.alertname.in_(sorted(names)))
    suppressor = Suppressor(rules=state.rules, sources=state.sources)
    for fp, labels in session.execute(query):
        suppressor.source_fired(labels, fp)
    state.warm = True


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _counted(names: Any) -> str:
    counts: dict[str, int] = defaultdict(int)
    for name in names:
        counts[name] += 1
    return ", ".join(
        f"{n} ×{c}" if c > 1 else n for n, c in sorted(counts.items(), key=lambda x: -x[1])
    )


def _summary(alert: Alert) -> str:
    return (
        alert.annotations.get("summary") or f"{alert.alertname}: {alert.model or 'unknown model'}"
    )


def _signals(alert: Alert) -> dict[str, Any]:
    return alert.signals.model_dump(exclude_none=True) if alert.signals else {}


def _signal_entry(alert: Alert, fp: str, reasons: list[str]) -> dict[str, Any]:
    return {
        "alertname": alert.alertname,
        "fingerprint": fp,
        "source": alert.labels["source"],
        "starts_at": alert.starts_at.isoformat(),
        "observed": _signals(alert),
        "reasons": reasons,
    }
