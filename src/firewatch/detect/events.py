"""Inference events: what a model service predicted (``POST /api/v1/models/{model}/events``)
and the ground truth that arrives later (``POST .../labels``), joined by request id.

Nothing here grows with traffic. Events are folded into time buckets covering the model's
``events.window`` (counts, errors, a latency histogram, per-version / per-segment / per-error-type
counts); predictions wait for their label in a bounded map (``max_pending``, ``label_horizon``);
labels that arrive before their prediction wait in another. The buckets give the signals the
rules judge: ``accuracy`` and ``latency_p95_s`` always, and ``error_rate``, ``request_rate`` and
``latency_mean_s`` for models that have no ``/metrics`` to scrape.

The windows live in memory: a restart starts them empty (rules judge again once a window has
``min_events``), and predictions waiting for labels at that moment are not joined.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec

from firewatch.config import EventsConfig, ModelConfig
from firewatch.detect import scope
from firewatch.detect.drift import ModelDrift
from firewatch.detect.label_metrics import LabelStats
from firewatch.detect.rule_config import Signal
from firewatch.detect.signals import Sample, SignalStore
from firewatch.errors import InvalidInput

MAX_EVENTS = 50_000  # per request
BUCKETS_PER_WINDOW = 30
MAX_VALUES = 100  # values kept per dimension per bucket, "(other)" included, which counts the rest
FAILED_KEPT = 20  # failed requests kept per model as samples for the investigation
SAMPLE_FEATURES = 20  # features kept of a failed request
OTHER = "(other)"
FUTURE_SKEW = timedelta(minutes=1)  # event times later than now by more are taken as now
QUALITY_SIGNALS = (
    Signal.PRECISION,
    Signal.RECALL,
    Signal.F1,
    Signal.ROC_AUC,
    Signal.MAE,
    Signal.RMSE,
)

# Latency histogram: log-spaced bounds from 1 ms to ~5 min, 10% apart, so a percentile read
# from it is within 10% of the exact value.
LATENCY_BOUNDS = tuple(0.001 * 1.1**i for i in range(int(math.log(300_000) / math.log(1.1)) + 2))

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_Time = Annotated[datetime, msgspec.Meta(tz=True)]


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    """One prediction as the service made it."""

    request_id: _Id
    time: _Time | None = None  # when it was served; default: when it was received
    model_version: _Name | None = None
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    error: bool = False
    error_type: _Name | None = None  # e.g. timeout, OOMKilled, 500
    error_message: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    prediction: Any = None
    score: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None  # P(positive), for ROC-AUC
    features: dict[str, float | str | bool | None] | None = None  # for the drift detectors
    segment: dict[_Name, _Name] | None = None  # e.g. {"region": "eu", "plan": "free"}


class EventsIn(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[EventIn], msgspec.Meta(min_length=1, max_length=MAX_EVENTS)]


class LabelIn(msgspec.Struct, forbid_unknown_fields=True):
    """The ground truth of an earlier prediction."""

    request_id: _Id
    label: Any
    time: _Time | None = None


class LabelsIn(msgspec.Struct, forbid_unknown_fields=True):
    labels: Annotated[list[LabelIn], msgspec.Meta(min_length=1, max_length=MAX_EVENTS)]


_events_decoder = msgspec.json.Decoder(EventsIn)
_labels_decoder = msgspec.json.Decoder(LabelsIn)


def parse_events(body: bytes) -> list[EventIn]:
    parsed: EventsIn = _decode(_events_decoder, body, "events")
    return parsed.events


def parse_labels(body: bytes) -> list[LabelIn]:
    parsed: LabelsIn = _decode(_labels_decoder, body, "labels")
    return parsed.labels


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes, what: str) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:  # and ValidationError; messages name the field ($.path)
        message = str(exc)
        code = "invalid_input" if isinstance(exc, msgspec.ValidationError) else "malformed_json"
        raise InvalidInput(
            f"invalid {what} payload: {message}",
            code=code,
            details={"errors": [{"field": _field(message), "problem": message}]},
        ) from exc


def _field(message: str) -> str:
    _, found, path = message.rpartition("at `")
    return path.rstrip("`") if found else "body"


@dataclass(frozen=True)
class EventsAccepted:
    accepted: int
    duplicates: int  # request ids already seen (a retried batch): not counted twice
    too_old: int  # older than the window: not counted
    waiting_for_labels: int


@dataclass(frozen=True)
class LabelsAccepted:
    matched: int  # joined with their prediction
    waiting: int  # held until their prediction arrives
    not_judged: int  # joined, but the prediction carried no value to compare


@dataclass(frozen=True)
class FailedRequest:
    """One failed request as the service reported it: a sample for the person on call."""

    request_id: str
    at: datetime
    version: str | None
    error_type: str
    message: str | None
    segment: dict[str, str]
    features: dict[str, Any]


@dataclass(frozen=True)
class Failures:
    """A model's failed requests over its events window: counts by error type, latest samples."""

    window: timedelta
    requests: int
    errors: int
    by_type: dict[str, int]  # most frequent first
    samples: list[FailedRequest]  # newest last


@dataclass(slots=True)
class _Bucket:
    events: int = 0
    errors: int = 0
    latency_n: int = 0
    latency_sum: float = 0.0
    latency_bins: dict[int, int] = field(default_factory=dict)
    by: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # dim -> value -> [n, err]
    error_types: dict[str, int] = field(default_factory=dict)
    judged: int = 0
    wrong: int = 0
    judged_by: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    labels: LabelStats = field(default_factory=LabelStats)


@dataclass(slots=True)
class _Pending:
    at: datetime
    dims: tuple[tuple[str, str], ...]
    prediction: Any
    score: float | None = None


def _count(table: dict[str, dict[str, list[int]]], dim: str, value: str, bad: bool) -> None:
    values = table.setdefault(dim, {})
    counts = values.get(value)
    if counts is None:
        if len(values) >= MAX_VALUES - 1:
            value = OTHER
            counts = values.get(value)
        if counts is None:
            counts = values[value] = [0, 0]
    counts[0] += 1
    counts[1] += bad


def _label_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


class ModelEvents:
    """One model's windows and label joins."""

    def __init__(
        self,
        name: str,
        config: EventsConfig,
        *,
        judge_traffic: bool,
        drift: ModelDrift | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.drift = drift
        self.judge_traffic = judge_traffic  # no /metrics: error rate and latency come from here
        self.width = max(config.window / BUCKETS_PER_WINDOW, timedelta(seconds=1))
        self.buckets: dict[int, _Bucket] = {}
        self.pending: OrderedDict[str, _Pending] = OrderedDict()
        self.early: OrderedDict[str, tuple[Any, datetime]] = OrderedDict()
        self.evaluated_at: datetime | None = None
        # The raw events (kept as sent, never changed): a sample is built only when asked for,
        # not for each of the thousands of failures a broken version reports.
        self.failed: deque[tuple[EventIn, datetime, str]] = deque(maxlen=FAILED_KEPT)

    def _slot(self, at: datetime) -> int:
        return int(at.timestamp() // self.width.total_seconds())

    def _bucket(self, at: datetime) -> _Bucket:
        slot = self._slot(at)
        bucket = self.buckets.get(slot)
        if bucket is None:
            bucket = self.buckets[slot] = _Bucket()
        return bucket

    def add_events(self, events: Iterable[EventIn], now: datetime) -> EventsAccepted:
        self._expire(now)
        oldest = now - self.config.window
        accepted = duplicates = too_old = 0
        for event in events:
            if event.request_id in self.pending:
                duplicates += 1
                continue
            at = event.time or now
            at = now if at > now + FUTURE_SKEW else at
            dims: tuple[tuple[str, str], ...] = (("version", event.model_version or ""),)
            if event.segment:
                dims += tuple(sorted(event.segment.items()))
            self._remember(event, at, dims, now)
            if at < oldest:
                too_old += 1
                continue
            accepted += 1
            bucket = self._bucket(at)
            bucket.events += 1
            if event.error:
                bucket.errors += 1
                kind = event.error_type or "unspecified"
                if kind in bucket.error_types or len(bucket.error_types) < MAX_VALUES:
                    bucket.error_types[kind] = bucket.error_types.get(kind, 0) + 1
                self.failed.append((event, at, kind))
            for dim, value in dims:
                _count(bucket.by, dim, value, event.error)
            if event.latency_ms is not None:
                seconds = event.latency_ms / 1000
                bucket.latency_n += 1
                bucket.latency_sum += seconds
                slot = bisect.bisect_left(LATENCY_BOUNDS, seconds)
                bucket.latency_bins[slot] = bucket.latency_bins.get(slot, 0) + 1
        if self.drift is not None:
            self.drift.add_events(self._drift_rows(events, now), now)
        return EventsAccepted(accepted, duplicates, too_old, len(self.pending))

    def _drift_rows(
        self, events: Iterable[EventIn], now: datetime
    ) -> Iterable[tuple[datetime, str | None, dict[str, Any]]]:
        assert self.drift is not None
        prediction = self.drift.config.prediction_column
        for event in events:
            if event.error or (event.features is None and event.prediction is None):
                continue
            row: dict[str, Any] = dict(event.features or {})
            if event.prediction is not None:
                row[prediction] = event.prediction
            at = event.time or now
            yield (now if at > now + FUTURE_SKEW else at), event.model_version, row

    def _remember(
        self, event: EventIn, at: datetime, dims: tuple[tuple[str, str], ...], now: datetime
    ) -> None:
        if self.config.max_pending == 0:
            return
        early = self.early.pop(event.request_id, None)
        if early is not None:  # its label came first
            self._judge(event.prediction, early[0], dims, now, event.score)
            return
        self.pending[event.request_id] = _Pending(at, dims, event.prediction, event.score)
        while len(self.pending) > self.config.max_pending:
            self.pending.popitem(last=False)

    def add_labels(self, labels: Iterable[LabelIn], now: datetime) -> LabelsAccepted:
        self._expire(now)
        matched = waiting = not_judged = 0
        for label in labels:
            found = self.pending.pop(label.request_id, None)
            if found is None:
                self.early[label.request_id] = (label.label, label.time or now)
                self.early.move_to_end(label.request_id)
                waiting += 1
                continue
            matched += 1
            if found.prediction is None:
                not_judged += 1
                continue
            self._judge(found.prediction, label.label, found.dims, now, found.score)
        while len(self.early) > self.config.max_pending:
            self.early.popitem(last=False)
        if self.drift is not None:
            self.drift.add_labels((label.label for label in labels), now)
        return LabelsAccepted(matched, waiting, not_judged)

    def _judge(
        self,
        prediction: Any,
        truth: Any,
        dims: tuple[tuple[str, str], ...],
        now: datetime,
        score: float | None = None,
    ) -> None:
        """Accuracy is over labels by when they arrived: "how right were the predictions whose
        ground truth we learnt recently"."""
        if prediction is None:
            return
        wrong = prediction != truth
        bucket = self._bucket(now)
        bucket.judged += 1
        bucket.wrong += wrong
        bucket.labels.add(prediction, truth, score, self.config.positive_label)
        for dim, value in (*dims, ("label", _label_value(truth))):
            _count(bucket.judged_by, dim, value, wrong)

    def failures(self, now: datetime) -> Failures:
        """Failed requests in the window: how many, of which error types, and the latest few."""
        self._expire(now)
        by_type: dict[str, int] = {}
        for bucket in self.buckets.values():
            for kind, n in bucket.error_types.items():
                by_type[kind] = by_type.get(kind, 0) + n
        oldest = now - self.config.window
        return Failures(
            window=self.config.window,
            requests=sum(b.events for b in self.buckets.values()),
            errors=sum(b.errors for b in self.buckets.values()),
            by_type=dict(sorted(by_type.items(), key=lambda item: -item[1])),
            samples=[_failed(e, at, kind) for e, at, kind in self.failed if at >= oldest],
        )

    def _expire(self, now: datetime) -> None:
        first = self._slot(now - self.config.window)
        for slot in [s for s in self.buckets if s < first]:
            del self.buckets[slot]
        horizon = now - self.config.label_horizon
        while self.pending and next(iter(self.pending.values())).at < horizon:
            self.pending.popitem(last=False)
        while self.early and next(iter(self.early.values()))[1] < horizon:
            self.early.popitem(last=False)

    def publish(self, store: SignalStore, now: datetime) -> None:
        """Put this window's signals into the store (and take back those it cannot judge)."""
        self._expire(now)
        self.evaluated_at = now
        total = _Bucket()
        first = None
        for slot in sorted(self.buckets):
            first = slot if first is None else first
            _merge(total, self.buckets[slot])
        put = {}
        if total.latency_n >= self.config.min_events:
            put[Signal.LATENCY_P95_S] = Sample(now, _percentile(total.latency_bins, 0.95))
        if total.judged >= self.config.min_labels:
            quality = total.labels.metrics(self.config.task, self.config.positive_label)
            if "mae" not in quality:  # accuracy means nothing for a regression
                where = scope.describe(total.judged_by, failure="wrong")
                context = {"labels": total.judged, "wrong": total.wrong, "scope": where}
                put[Signal.ACCURACY] = Sample(now, 1 - total.wrong / total.judged, context)
            for name, value in quality.items():
                put[Signal(name)] = Sample(now, value, {"labels": total.judged})
        if self.judge_traffic and first is not None:
            covered = now.timestamp() - first * self.width.total_seconds()
            span = min(self.config.window.total_seconds(), max(covered, 1.0))
            put[Signal.REQUEST_RATE] = Sample(now, total.events / span)
            if total.events >= self.config.min_events:
                where = "\n".join(filter(None, [scope.describe(total.by), _types(total)]))
                context = {"requests": total.events, "errors": total.errors, "scope": where}
                put[Signal.ERROR_RATE] = Sample(now, total.errors / total.events, context)
            if total.latency_n >= self.config.min_events:
                put[Signal.LATENCY_MEAN_S] = Sample(now, total.latency_sum / total.latency_n)
        judged = [Signal.LATENCY_P95_S, Signal.ACCURACY, *QUALITY_SIGNALS]
        if self.judge_traffic:
            judged += [Signal.REQUEST_RATE, Signal.ERROR_RATE, Signal.LATENCY_MEAN_S]
        for signal in judged:
            if signal in put:
                store.record(self.name, signal.value, put[signal])
            else:
                store.forget(self.name, signal.value)
        drift = self.drift
        if drift is not None and (
            drift.evaluated_at is None or now - drift.evaluated_at >= drift.config.evaluate_every
        ):
            verdict = drift.publish(store, now)
            if verdict is not None and Signal.ACCURACY in put:
                put[Signal.ACCURACY].context["detail"] = drift.hint(verdict, accuracy_fell=True)
        if drift is not None and Signal.ACCURACY in put:
            baseline = drift.reference_accuracy()
            if baseline is not None:
                put[Signal.ACCURACY].context["baseline_accuracy"] = baseline


def _failed(event: EventIn, at: datetime, kind: str) -> FailedRequest:
    features = dict(itertools.islice((event.features or {}).items(), SAMPLE_FEATURES))
    return FailedRequest(
        request_id=event.request_id,
        at=at,
        version=event.model_version,
        error_type=kind,
        message=event.error_message,
        segment=dict(event.segment or {}),
        features={k: v[:200] if isinstance(v, str) else v for k, v in features.items()},
    )


def _merge(total: _Bucket, bucket: _Bucket) -> None:
    total.events += bucket.events
    total.errors += bucket.errors
    total.latency_n += bucket.latency_n
    total.latency_sum += bucket.latency_sum
    for slot, n in bucket.latency_bins.items():
        total.latency_bins[slot] = total.latency_bins.get(slot, 0) + n
    for kind, n in bucket.error_types.items():
        total.error_types[kind] = total.error_types.get(kind, 0) + n
    total.judged += bucket.judged
    total.wrong += bucket.wrong
    total.labels.merge(bucket.labels)
    for into, table in ((total.by, bucket.by), (total.judged_by, bucket.judged_by)):
        for dim, values in table.items():
            merged = into.setdefault(dim, {})
            for value, (n, bad) in values.items():
                counts = merged.setdefault(value, [0, 0])
                counts[0] += n
                counts[1] += bad


def _percentile(bins: dict[int, int], q: float) -> float:
    """The q-quantile from the histogram: the upper bound of the bin it falls in (≤ 10% high)."""
    total = sum(bins.values())
    rank = q * total
    seen = 0
    for slot in sorted(bins):
        seen += bins[slot]
        if seen >= rank:
            return LATENCY_BOUNDS[min(slot, len(LATENCY_BOUNDS) - 1)]
    return LATENCY_BOUNDS[-1]


def _types(total: _Bucket) -> str:
    if not total.error_types or total.errors == 0:
        return ""
    ordered = sorted(total.error_types.items(), key=lambda item: -item[1])
    shown = [f"{kind} {n:,} ({n / total.errors:.0%})" for kind, n in ordered[:5]]
    return "by error type: " + ", ".join(shown)


class InferenceEvents:
    """Every model's event windows, created on a model's first events."""

    def __init__(self, models: Iterable[ModelConfig]) -> None:
        self.configs = {m.name: m for m in models}
        self.models: dict[str, ModelEvents] = {}
        # References load at start: a broken one is a config error, not a failing request.
        self.drift = {m.name: ModelDrift(m.name, m.drift) for m in self.configs.values() if m.drift}

    def of(self, model: str) -> ModelEvents:
        found = self.models.get(model)
        if found is None:
            config = self.configs.get(model)
            found = self.models[model] = ModelEvents(
                model,
                config.events if config else EventsConfig(),
                judge_traffic=config is None or config.metrics_url is None,
                drift=self.drift.get(model),
            )
        return found

    def failures(self, model: str, now: datetime) -> Failures | None:
        """``model``'s failed requests in its window; None when it never sent events."""
        found = self.models.get(model)
        return found.failures(now) if found is not None else None

    def due(self, now: datetime) -> list[ModelEvents]:
        """Models whose signals are due for judging."""
        return [
            m
            for m in self.models.values()
            if m.evaluated_at is None or now - m.evaluated_at >= m.config.evaluate_every
        ]

    @property
    def every(self) -> float:
        """Seconds between checks for models due."""
        intervals = [m.events.evaluate_every for m in self.configs.values()]
        intervals += [m.drift.evaluate_every for m in self.configs.values() if m.drift]
        return min([*intervals, EventsConfig().evaluate_every]).total_seconds()
