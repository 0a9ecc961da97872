"""Alert processing: a batch of alerts becomes alert state and incident changes, in one transaction.

Per batch: fingerprint, keep the last word per fingerprint, deduplicate against what is already
firing (a repeat of an attached alert touches nothing but, now and then, ``last_seen_at``),
suppress (silences, maintenance windows, inhibition — kept, never dropped), group the rest by
``group_by`` (default: one open incident per model) and open or attach — one timeline entry per
incident per batch, however many alerts arrive — then write the rows in bulk and schedule the
auto-resolve of incidents whose alerts all cleared.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from firewatch.alerts import bulk, verification
from firewatch.alerts.matchers import parse_matchers
from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.alerts.silences import active_silences
from firewatch.alerts.state import Known, PipelineState
from firewatch.alerts.suppression import (
    InhibitRule,
    MaintenanceWindow,
    Suppressor,
    default_inhibit_rules,
)
from firewatch.drills import service as drill_service
from firewatch.errors import Conflict
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import OPEN_STATUSES
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.service import SYSTEM, Actor, DrillMark
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.severity import (
    RANK,
    Classification,
    Severity,
    SeverityPolicy,
    Signals,
    effective_severity,
)
from firewatch.store import jobs as job_table

AUTO_RESOLVE_JOB = "incident.auto_resolve"
LAST_SEEN_EVERY = timedelta(seconds=30)  # a repeat refreshes last_seen_at at most this often
SIGNALS_KEPT = 50  # signal entries kept on an incident
ATTACH_ENTRY_EVERY = timedelta(seconds=30)
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
_FIRING = AlertStatus.FIRING.value


class Outcome(StrEnum):
    OPENED = "opened"  # opened a new incident
    ATTACHED = "attached"  # joined an open incident
    UPDATED = "updated"  # already firing: deduplicated
    SUPPRESSED = "suppressed"  # silenced, in maintenance or inhibited: kept, no incident
    RESOLVED = "resolved"  # cleared
    ACKNOWLEDGED = "acknowledged"  # PagerDuty acknowledge: the incident was acknowledged
    IGNORED = "ignored"  # a clear or acknowledge for an alert that is not firing


@dataclass(slots=True)
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
    runbook_for: Callable[[str], str | None] = field(default=lambda _alertname: None)
    """The runbook bound to an alertname, for alerts whose annotations name none."""
    inhibit_rules: tuple[InhibitRule, ...] = tuple(default_inhibit_rules())
    maintenance: tuple[MaintenanceWindow, ...] = ()
    verify_models: frozenset[str] = frozenset()  # models Firewatch can reach to verify alerts

    def new_state(self) -> PipelineState:
        return PipelineState(self.inhibit_rules)


@dataclass(slots=True)
class _Incident:
    """What the fast path needs to know of an incident, without loading its row."""

    display_id: str
    status: str
    rank: int


def group_key(alert: Alert, group_by: Sequence[str]) -> str:
    """``model=iris`` by default; Alertmanager-style ``group_by`` over any labels."""
    labels = alert.labels
    if len(group_by) == 1:  # the default, on the hot path
        name = group_by[0]
        return f"{name}={labels.get(name, '')}"
    return ",".join([f"{name}={labels.get(name, '')}" for name in group_by])


def process_alerts(
    session: Session,
    *,
    alerts: Sequence[Alert],
    now: datetime,
    policy: AlertPolicy,
    state: PipelineState | None = None,
) -> list[ProcessResult]:
    """Apply a batch of alerts in the caller's transaction; one result per distinct alert."""
    state = state or policy.new_state()
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
        )
        self.inserts: list[tuple[Any, ...]] = []
        self.values = bulk.Values(bulk.is_sqlite(session))
        self.now_value = self.values.time(now)
        self.updates: list[dict[str, Any]] = []
        self.pending: dict[str, list[tuple[str, Alert, Classification, ProcessResult]]] = (
            defaultdict(list)
        )
        self.cleared: dict[int, list[Alert]] = defaultdict(list)
        self.released: list[str] = []
        self.info: dict[int, _Incident] = {}
        self.rows: dict[int, IncidentRow] = {}
        self.classified: dict[str | None, Classification] = {}
        self.stale = now - LAST_SEEN_EVERY
        self.drills: dict[str, DrillMark] | None = None  # read when the batch opens an incident

    def run(self, alerts: Sequence[Alert]) -> list[ProcessResult]:
        latest: dict[str, Alert] = {}
        fingerprint_of = self.state.fingerprint_of
        for alert in alerts:
            fp = fingerprint_of(alert)
            latest.pop(fp, None)
            latest[fp] = alert
        known = self._lookup(list(latest))
        self._load_info({k.incident_id for k in known.values() if k.incident_id})
        results = []
        for fp, alert in latest.items():
            k = known.get(fp)
            if alert.status is AlertStatus.FIRING:
                results.append(self._fire(fp, alert, k))
            elif alert.status is AlertStatus.RESOLVED:
                results.append(self._resolve(fp, alert, k))
            else:
                results.append(self._acknowledge(fp, alert, k))
        self._attach_groups()
        self._write_rows()
        self._after_clears()
        if self.released:
            results += self._revive()
        return results

    # -- reading ---------------------------------------------------------------------------------

    def _lookup(self, fps: list[str]) -> dict[str, Known]:
        remembered = self.state.known
        found = {fp: remembered[fp] for fp in fps if fp in remembered}
        missing = [fp for fp in fps if fp not in found]
        for chunk in _chunks(missing, 900):
            rows = self.session.execute(
                select(
                    AlertRow.fingerprint,
                    AlertRow.status,
                    AlertRow.incident_id,
                    AlertRow.suppressed_by,
                    AlertRow.last_seen_at,
                ).where(AlertRow.fingerprint.in_(chunk))
            ).all()
            for fp, status, incident_id, suppressed_by, last_seen in rows:
                found[fp] = Known(status, incident_id, suppressed_by, last_seen)
                self.state.remember(fp, found[fp])
        return found

    def _load_info(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self.info]
        for chunk in _chunks(missing, 900):
            rows = self.session.execute(
                select(
                    IncidentRow.id, IncidentRow.display_id, IncidentRow.status, IncidentRow.severity
                ).where(IncidentRow.id.in_(chunk))
            )
            for incident_id, display_id, status, severity in rows:
                self.info[incident_id] = _Incident(display_id, status, Severity(severity).rank)

    def _row(self, incident_id: int) -> IncidentRow:
        row = self.rows.get(incident_id)
        if row is None:
            row = self.rows[incident_id] = self.session.get_one(IncidentRow, incident_id)
        return row

    # -- the three kinds of alert ----------------------------------------------------------------

    def _fire(self, fp: str, alert: Alert, known: Known | None) -> ProcessResult:
        classification = self._classify(alert)
        if known is not None and known.status == _FIRING and known.incident_id is not None:
            info = self.info.get(known.incident_id)
            if info is not None and info.status in _OPEN:  # a repeat: the common case
                if RANK[classification.severity] < info.rank:
                    self._raise(known.incident_id, classification.severity, alert)
                if known.last_seen_at <= self.stale:
                    self.updates.append({"fingerprint": fp, "last_seen_at": self.now})
                    known.last_seen_at = self.now
                return ProcessResult(fp, Outcome.UPDATED, info.display_id)
        self.state.source_fired(fp, alert)
        reason = self.suppressor.reason(alert.labels)
        if reason is None and (source := self.state.inhibited_by(fp, alert)) is not None:
            reason = f"inhibited:{source}"
        if reason is not None:
            repeat = known is not None and known.status == _FIRING and known.suppressed_by == reason
            if not repeat:
                self._store(fp, alert, known, classification.severity, None, reason)
            return ProcessResult(fp, Outcome.SUPPRESSED, reason=reason)
        result = ProcessResult(fp, Outcome.ATTACHED)
        self.pending[group_key(alert, self.policy.group_by)].append(
            (fp, alert, classification, result)
        )
        return result

    def _resolve(self, fp: str, alert: Alert, known: Known | None) -> ProcessResult:
        if known is None or known.status != _FIRING:
            return ProcessResult(fp, Outcome.IGNORED)
        self.updates.append(
            {
                "fingerprint": fp,
                "status": AlertStatus.RESOLVED.value,
                "ends_at": alert.ends_at or self.now,
                "last_seen_at": self.now,
            }
        )
        known.status, known.last_seen_at = AlertStatus.RESOLVED.value, self.now
        if self.state.source_cleared(fp, alert):
            self.released.append(fp)
        info = self.info.get(known.incident_id) if known.incident_id else None
        if info is None or info.status not in _OPEN:
            return ProcessResult(fp, Outcome.RESOLVED)
        self.cleared[known.incident_id or 0].append(alert)
        return ProcessResult(fp, Outcome.RESOLVED, info.display_id)

    def _acknowledge(self, fp: str, alert: Alert, known: Known | None) -> ProcessResult:
        info = self.info.get(known.incident_id) if known and known.incident_id else None
        if known is None or known.incident_id is None or info is None or info.status not in _OPEN:
            return ProcessResult(fp, Outcome.IGNORED)
        with contextlib.suppress(Conflict):  # already acknowledged: idempotent, as in PagerDuty
            incident_service.acknowledge(
                self.session,
                incident=self._row(known.incident_id),
                actor=Actor(alert.labels["source"]),
                now=self.now,
            )
        return ProcessResult(fp, Outcome.ACKNOWLEDGED, info.display_id)

    # -- grouping --------------------------------------------------------------------------------

    def _attach_groups(self) -> None:
        if not self.pending:
            return
        open_by_group: dict[str, IncidentRow] = {}
        for chunk in _chunks(list(self.pending), 900):
            query = (
                select(IncidentRow)
                .where(IncidentRow.group_key.in_(chunk), IncidentRow.status.in_(_OPEN))
                .options(defer(IncidentRow.labels), defer(IncidentRow.signals))
            )
            for row in self.session.scalars(query):
                open_by_group[row.group_key or ""] = row
                self.rows[row.id] = row
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
            display_id, incident_id, known = incident.display_id, incident.id, self.state.known
            for fp, alert, classification, result in items:
                result.incident = display_id
                self._store(fp, alert, known.get(fp), classification.severity, incident_id, None)

    def _open(self, key: str, fp: str, alert: Alert, classification: Classification) -> IncidentRow:
        runbook = alert.annotations.get("runbook") or self.policy.runbook_for(alert.alertname)
        why = f"Severity {classification.severity}: " + "; ".join(classification.reasons) + "."
        description = f"{alert.annotations.get('description', '')}\n\n{why}".strip()
        verify = (
            alert.labels["source"] in verification.EXTERNAL_SOURCES
            and alert.model in self.policy.verify_models
        )
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
                **({"verification": verification.PENDING} if verify else {}),
            },
            drill=self._drill(alert.model),
        )
        if verify:
            verification.enqueue(self.session, incident, alert, self.now)
        self.rows[incident.id] = incident
        self.state.remember_names(incident.id, {alert.alertname})
        self.info[incident.id] = _Incident(
            incident.display_id, incident.status, classification.severity.rank
        )
        return incident

    def _drill(self, model: str | None) -> DrillMark | None:
        """The drill running on ``model``: an incident opened for it now is that drill's."""
        if self.drills is None:
            self.drills = drill_service.running_drills(self.session, now=self.now)
        return self.drills.get(model) if model else None

    def _record_attached(
        self, incident: IncidentRow, items: list[tuple[str, Alert, Classification, ProcessResult]]
    ) -> None:
        # A flood of alerts makes one entry per incident per ATTACH_ENTRY_EVERY, not one per batch:
        # alerts arriving in between are counted into the next entry.
        last, unrecorded = self.state.attach_entries.get(incident.id, (None, 0))
        if last is not None and self.now - last < ATTACH_ENTRY_EVERY:
            self.state.attach_entries[incident.id] = (last, unrecorded + len(items))
        else:
            self.state.noted_attach(incident.id, self.now)
            self._attach_entry(incident, items, unrecorded)
        self._keep_signals(incident, items)
        top = min((c.severity for _, _, c, _ in items), key=lambda s: s.rank)
        self._raise(incident.id, top, items[0][1])

    def _keep_signals(
        self, incident: IncidentRow, items: list[tuple[str, Alert, Classification, ProcessResult]]
    ) -> None:
        """The incident keeps the signal of the first alert of each kind (alertname) that joined
        it, up to SIGNALS_KEPT: what opened it and what came after, not every repeat."""
        names = self.state.signal_names.get(incident.id)
        if names is None:  # read once per incident per process
            with self.session.no_autoflush:  # a flush per incident would cost more than the rest
                names = {str(s.get("alertname")) for s in incident.signals}
            self.state.remember_names(incident.id, names)
        new: dict[str, tuple[str, Alert, Classification]] = {}
        for fp, alert, classification, _ in items:
            if alert.alertname not in names and alert.alertname not in new:
                new[alert.alertname] = (fp, alert, classification)
        room = SIGNALS_KEPT - len(names)
        if not new or room <= 0:
            return
        entries = [_signal_entry(a, fp, c.reasons) for fp, a, c in list(new.values())[:room]]
        with self.session.no_autoflush:
            incident.signals = [*incident.signals, *entries]
        names.update(str(e["alertname"]) for e in entries)

    def _attach_entry(
        self,
        incident: IncidentRow,
        items: list[tuple[str, Alert, Classification, ProcessResult]],
        earlier: int,
    ) -> None:
        if len(items) == 1 and not earlier:
            alert = items[0][1]
            text = f"Alert {alert.alertname} fired: {_summary(alert)}"
            if description := alert.annotations.get("description"):  # e.g. the drifted features
                text += "\n" + description[:DESCRIPTION_KEPT]
        else:
            text = f"{len(items)} alerts fired: {_counted(a.alertname for _, a, _, _ in items)}"
            if earlier:
                text += f" (and {earlier} more since the last entry)"
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

    def _raise(self, incident_id: int, severity: Severity, alert: Alert) -> None:
        incident = self._row(incident_id)
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
            if incident_id in self.info:
                self.info[incident_id].rank = severity.rank

    def _classify(self, alert: Alert) -> Classification:
        if alert.signals is not None:
            return effective_severity(alert.severity, alert.signals, self.policy.severity)
        key = alert.labels.get("severity")
        found = self.classified.get(key)
        if found is None:
            found = self.classified[key] = effective_severity(
                alert.severity, Signals(), self.policy.severity
            )
        return found

    # -- writing ---------------------------------------------------------------------------------

    def _store(
        self,
        fp: str,
        alert: Alert,
        known: Known | None,
        severity: Severity,
        incident_id: int | None,
        suppressed_by: str | None,
    ) -> None:
        labels = alert.labels
        if known is None:  # the hot path of a flood of new alerts: a prepared tuple, no dict
            v = self.values
            self.inserts.append(
                (
                    fp,
                    labels["alertname"],
                    labels.get("model"),
                    labels["source"],
                    severity.value,
                    _FIRING,
                    suppressed_by,
                    v.json(labels),
                    v.json(alert.annotations),
                    v.json(_signals(alert)) if alert.signals else "{}",
                    v.time(alert.starts_at),
                    None,
                    self.now_value,
                    incident_id,
                )
            )
        else:
            self.updates.append(
                {
                    "fingerprint": fp,
                    "alertname": alert.alertname,
                    "model": alert.model,
                    "source": labels["source"],
                    "severity": severity.value,
                    "status": _FIRING,
                    "suppressed_by": suppressed_by,
                    "labels": labels,
                    "annotations": alert.annotations,
                    "signals": _signals(alert),
                    "starts_at": alert.starts_at,
                    "ends_at": None,
                    "last_seen_at": self.now,
                    "incident_id": incident_id,
                }
            )
        self.state.remember(fp, Known(_FIRING, incident_id, suppressed_by, self.now))

    def _write_rows(self) -> None:
        bulk.insert_alerts(self.session, self.inserts)
        bulk.update_alerts(self.session, self.updates)

    def _after_clears(self) -> None:
        if not self.cleared:
            return
        still_firing = set(
            self.session.scalars(
                select(AlertRow.incident_id)
                .where(AlertRow.incident_id.in_(list(self.cleared)), AlertRow.status == _FIRING)
                .group_by(AlertRow.incident_id)
            )
        )
        for incident_id, alerts in self.cleared.items():
            if len(alerts) == 1:
                text = f"Alert {alerts[0].alertname} cleared"
            else:
                text = f"{len(alerts)} alerts cleared: {_counted(a.alertname for a in alerts)}"
            record(
                self.session,
                self._row(incident_id),
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
        """Alerts inhibited by a source that just cleared, and still firing: process them again."""
        revived: list[Alert] = []
        for fp in self.released:
            rows = self.session.scalars(
                select(AlertRow).where(
                    AlertRow.status == _FIRING, AlertRow.suppressed_by == f"inhibited:{fp}"
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
    exact = [
        {m.value for m in rule.source if m.name == "alertname" and m.is_equal and not m.is_regex}
        for rule in state.rules
    ]
    query = select(AlertRow.fingerprint, AlertRow.labels, AlertRow.alertname).where(
        AlertRow.status == _FIRING
    )
    if exact and all(exact):
        query = query.where(AlertRow.alertname.in_(sorted(set().union(*exact))))
    for fp, labels, _ in session.execute(query):
        state.source_fired(fp, Alert(labels=labels, starts_at=_EPOCH))
    state.warm = True


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _counted(names: Iterable[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for name in names:
        counts[name] += 1
    ordered = sorted(counts.items(), key=lambda x: -x[1])
    return ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in ordered)


DESCRIPTION_KEPT = 2000  # characters of a joining alert's description on the timeline


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
