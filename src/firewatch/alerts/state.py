"""What alert processing remembers between batches, every part bounded: recently seen alerts (an
LRU; misses are read from the database, one query per batch), computed fingerprints, which
inhibition rules each alert matches, and the firing alerts that inhibit others."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from firewatch.alerts.fingerprint import fingerprint
from firewatch.alerts.schemas import Alert
from firewatch.alerts.suppression import CompiledInhibitRule, InhibitRule, compile_rules

MAX_REMEMBERED = 100_000


@dataclass(slots=True)
class Known:
    """An alert as stored: enough to decide, without reading its row, what a repeat means."""

    status: str
    incident_id: int | None
    suppressed_by: str | None
    last_seen_at: datetime


class _Lru(OrderedDict[str, tuple[int, ...]]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: tuple[int, ...]) -> tuple[int, ...]:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class PipelineState:
    def __init__(self, rules: tuple[InhibitRule, ...], *, max_known: int = MAX_REMEMBERED) -> None:
        self.rules: list[CompiledInhibitRule] = compile_rules(rules)
        self.sources: list[dict[tuple[str, ...], str]] = [{} for _ in self.rules]
        self.known: OrderedDict[str, Known] = OrderedDict()
        self.fingerprints: OrderedDict[tuple[tuple[str, str], ...], str] = OrderedDict()
        self.source_rules = _Lru(max_known)
        self.target_rules = _Lru(max_known)
        self.signal_names: dict[int, set[str]] = {}  # alertnames in each incident's signals
        # incident → (time of its last alert_attached entry, alerts attached since, unrecorded)
        self.attach_entries: dict[int, tuple[datetime | None, int]] = {}
        # Most matchers read only a label or two (alertname): match once per distinct value.
        self._source_names = sorted({m.name for r in self.rules for m in r.source})
        self._target_names = sorted({m.name for r in self.rules for m in r.target})
        self.max_known = max_known
        self.warm = False

    def remember(self, fp: str, known: Known) -> None:
        remembered = self.known
        if fp in remembered:
            remembered.move_to_end(fp)
        remembered[fp] = known
        if len(remembered) > self.max_known:
            remembered.popitem(last=False)

    def remember_names(self, incident_id: int, names: set[str]) -> None:
        self.signal_names[incident_id] = names
        if len(self.signal_names) > self.max_known:
            self.signal_names.pop(next(iter(self.signal_names)))

    def noted_attach(self, incident_id: int, at: datetime) -> None:
        self.attach_entries[incident_id] = (at, 0)
        if len(self.attach_entries) > self.max_known:
            self.attach_entries.pop(next(iter(self.attach_entries)))

    def fingerprint_of(self, alert: Alert) -> str:
        """The sender's fingerprint (Alertmanager's is computed the same way), a PagerDuty
        dedup key's (unique per integration), or the labels' (cached)."""
        if alert.fingerprint:
            return alert.fingerprint
        if alert.dedup_key:
            scope = {"source": alert.labels["source"], "dedup_key": alert.dedup_key}
            return fingerprint({**scope, "integration": alert.labels.get("integration", "")})
        key = tuple(sorted(alert.labels.items()))
        found = self.fingerprints.get(key)
        if found is None:
            found = self.fingerprints[key] = fingerprint(alert.labels)
            if len(self.fingerprints) > self.max_known:
                self.fingerprints.popitem(last=False)
        return found

    def sources_matched(self, fp: str, alert: Alert) -> tuple[int, ...]:
        """Indexes of the inhibit rules whose source matchers this alert matches (cached by the
        values of the labels those matchers read: usually just the alertname)."""
        labels = alert.labels
        key = _key(labels, self._source_names)
        found = self.source_rules.get(key)
        if found is None:
            matched = (
                i for i, r in enumerate(self.rules) if all(m.matches(labels) for m in r.source)
            )
            found = self.source_rules.put(key, tuple(matched))
        return found

    def targets_matched(self, fp: str, alert: Alert) -> tuple[int, ...]:
        labels = alert.labels
        key = _key(labels, self._target_names)
        found = self.target_rules.get(key)
        if found is None:
            matched = (
                i for i, r in enumerate(self.rules) if all(m.matches(labels) for m in r.target)
            )
            found = self.target_rules.put(key, tuple(matched))
        return found

    def source_fired(self, fp: str, alert: Alert) -> None:
        for i in self.sources_matched(fp, alert):
            self.sources[i].setdefault(self.rules[i].key(alert.labels), fp)

    def source_cleared(self, fp: str, alert: Alert) -> bool:
        """Forget a cleared source; True when it was inhibiting something."""
        released = False
        for i in self.sources_matched(fp, alert):
            key = self.rules[i].key(alert.labels)
            if self.sources[i].get(key) == fp:
                del self.sources[i][key]
                released = True
        return released

    def inhibited_by(self, fp: str, alert: Alert) -> str | None:
        """The fingerprint of a firing alert that inhibits this one, if any."""
        for i in self.targets_matched(fp, alert):
            source = self.sources[i].get(self.rules[i].key(alert.labels))
            if source is not None and source != fp:
                return source
        return None


def _key(labels: dict[str, str], names: list[str]) -> str:
    """The values of the labels some matchers read, as one cache key."""
    if len(names) == 1:  # usually the alertname alone
        return labels.get(names[0], "")
    return "\xff".join([labels.get(n, "") for n in names])
