"""Drift of a model's inputs, predictions and labels, from its inference events, against its
reference profile (``models[].drift`` in the config; the tests are `firewatch.drift`'s).

Events are folded into time buckets over ``drift.window``: per column, values wait in a small
buffer and are then folded into a sketch over the reference's bins, so memory stays bounded
whatever the traffic. Every ``evaluate_every`` the buckets are merged and judged; the verdicts
become signals the rules watch — ``data_drift`` (1 when the share of drifted features reaches
``drift_share``), ``prediction_drift`` and ``label_drift`` (1 when that column drifted) — with a
description naming each drifted column, its test, statistic and threshold, and since when.

Without a reference file, ``collect`` takes the first traffic as the reference: up to
``COLLECT_ROWS`` rows drawn uniformly (a reservoir) over that period, then profiled.

Windows and the collected reference live in memory: a restart starts them empty.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from firewatch.config import DriftConfig
from firewatch.detect.rule_config import Signal
from firewatch.detect.signals import Sample, SignalStore
from firewatch.drift import DataError, DriftOptions, Profile, Table, build_profile, read_table
from firewatch.drift.check import ColumnDrift, DriftReport, check_sketches
from firewatch.drift.profile import ColumnProfile
from firewatch.drift.quality import QualityOptions, QualityReport, check_quality_sketches
from firewatch.drift.sketch import CategoricalSketch, NumericSketch, category_name
from firewatch.drift.stattests.base import Kind
from firewatch.errors import ConfigError

log = logging.getLogger(__name__)

BUCKETS_PER_WINDOW = 12
FLUSH_VALUES = 20_000  # buffered values per column before they are folded into the sketch
COLLECT_ROWS = 50_000
MAX_VERSIONS = 50
MAX_NEW_COLUMNS = 100


def load_reference(config: DriftConfig) -> Profile | None:
    """The configured reference as a profile (None when it is to be collected, or when the
    file is not there yet: drift is then not judged, and the file is looked for again at each
    evaluation — a warning says so)."""
    path = config.reference
    if path is None:
        return None
    if not path.exists():
        return None
    try:
        if path.suffix.lower() == ".json":
            return Profile.load(path)
        return build_profile(read_table(path), bins=config.bins, source=str(path))
    except DataError as exc:
        raise ConfigError(f"drift reference: {exc}") from exc


@dataclass
class _Bucket:
    rows: int = 0
    buffers: dict[str, list[Any]] = field(default_factory=dict)
    sketches: dict[str, ColumnProfile] = field(default_factory=dict)


def _numbers(values: list[Any]) -> tuple[np.ndarray[Any, np.dtype[np.float64]], int]:
    """Floats of the buffered values; text that is not a number counts as missing (and is
    returned as the second value, for the quality check)."""
    try:  # the usual case, numbers and None (→ NaN) only: one C-level conversion
        return np.array(values, dtype=np.float64), 0
    except (TypeError, ValueError):
        pass
    out = np.empty(len(values), dtype=np.float64)
    invalid = 0
    for i, value in enumerate(values):
        try:
            out[i] = math.nan if value is None else float(value)
        except (TypeError, ValueError):
            out[i] = math.nan
            invalid += 1
    return out, invalid


def _empty_like(reference: ColumnProfile) -> ColumnProfile:
    if isinstance(reference.sketch, NumericSketch):
        return ColumnProfile(Kind.NUMERICAL, NumericSketch.empty(reference.sketch.edges), 0)
    return ColumnProfile(Kind.CATEGORICAL, CategoricalSketch(), 0)


@dataclass(frozen=True)
class DriftVerdict:
    features: DriftReport
    prediction: ColumnDrift | None
    label: ColumnDrift | None
    rows: int
    invalid: dict[str, int]  # values that were text where numbers were expected
    quality: QualityReport


class ModelDrift:
    """One model's drift windows against its reference."""

    def __init__(self, name: str, config: DriftConfig, profile: Profile | None = None) -> None:
        self.name = name
        self.config = config
        self.profile = profile if profile is not None else load_reference(config)
        self._accuracy: tuple[Profile | None, float | None] = (None, None)
        if self.profile is None and config.reference is not None:
            log.warning(
                "%s: drift reference %s does not exist (yet): drift is not judged until it does",
                name,
                config.reference,
            )
        self.width = max(config.window / BUCKETS_PER_WINDOW, timedelta(seconds=1))
        self.buckets: dict[int, _Bucket] = {}
        self.invalid: dict[str, int] = {}
        self.new_columns: set[str] = set()  # sent but not in the reference
        self.since: dict[str, datetime] = {}  # column -> first evaluation it was seen drifted
        self.versions: dict[str, datetime] = {}  # model version -> first served
        self.evaluated_at: datetime | None = None
        self._collected: dict[str, list[Any]] = {}
        self._collect_started: datetime | None = None
        self._seen = 0
        self._random = random.Random(0)
        self.options = DriftOptions(
            test=config.test,
            column_tests=config.column_tests,
            threshold=config.threshold,
            drift_share=config.drift_share,
        )
        self.quality_options = QualityOptions(null_rise=config.null_rate_points / 100)

    def reference_accuracy(self) -> float | None:
        """Accuracy on the reference's sampled rows that have both a prediction and a label
        (computed once per reference: it is asked at every evaluation)."""
        if self._accuracy[0] is not self.profile:
            self._accuracy = (self.profile, _sample_accuracy(self.profile, *self.special))
        return self._accuracy[1]

    @property
    def special(self) -> tuple[str, str]:
        return self.config.prediction_column, self.config.label_column

    def _slot(self, at: datetime) -> int:
        return int(at.timestamp() // self.width.total_seconds())

    def add_events(
        self, rows: Iterable[tuple[datetime, str | None, dict[str, Any]]], now: datetime
    ) -> None:
        """Fold events in: (time served, model version, {column: value}) with the prediction
        under ``prediction_column``."""
        oldest = now - self.config.window
        for at, version, row in rows:
            if version and version not in self.versions:
                self.versions[version] = at
                if len(self.versions) > MAX_VERSIONS:
                    del self.versions[min(self.versions, key=self.versions.__getitem__)]
            if self.profile is None:
                if self.config.collect is not None:
                    self._collect(row, now)
            elif at >= oldest:
                self._add(self._bucket(at), row)

    def add_labels(self, labels: Iterable[Any], now: datetime) -> None:
        """Ground truth as it arrives (label drift is judged by arrival time)."""
        if self.profile is None or self.config.label_column not in self.profile.columns:
            return
        bucket = self._bucket(now)
        column = self.config.label_column
        buffer = bucket.buffers.setdefault(column, [])
        buffer.extend(labels)
        if len(buffer) >= FLUSH_VALUES:
            self._fold(bucket, column)

    def _bucket(self, at: datetime) -> _Bucket:
        slot = self._slot(at)
        bucket = self.buckets.get(slot)
        if bucket is None:
            bucket = self.buckets[slot] = _Bucket()
        return bucket

    def _add(self, bucket: _Bucket, row: dict[str, Any]) -> None:
        assert self.profile is not None
        bucket.rows += 1
        label = self.config.label_column
        for column in self.profile.columns:
            if column == label:
                continue
            buffer = bucket.buffers.setdefault(column, [])
            buffer.append(row.get(column))
            if len(buffer) >= FLUSH_VALUES:
                self._fold(bucket, column)
        if len(self.new_columns) < MAX_NEW_COLUMNS:
            self.new_columns.update(c for c in row if c not in self.profile.columns)

    def _fold(self, bucket: _Bucket, column: str) -> None:
        assert self.profile is not None
        values = bucket.buffers.pop(column, [])
        reference = self.profile.columns[column]
        target = bucket.sketches.get(column)
        if target is None:
            target = bucket.sketches[column] = _empty_like(reference)
        if isinstance(target.sketch, NumericSketch):
            numbers, invalid = _numbers(values)
            if invalid:
                self.invalid[column] = self.invalid.get(column, 0) + invalid
            target.sketch.add(numbers)
        else:
            assert isinstance(target.sketch, CategoricalSketch)
            target.sketch.add(
                v if v is None or isinstance(v, str) else category_name(v) for v in values
            )

    def _collect(self, row: dict[str, Any], now: datetime) -> None:
        if self._collect_started is None:
            self._collect_started = now
            log.info("%s: collecting a drift reference for %s", self.name, self.config.collect)
        self._seen += 1
        if self._seen <= COLLECT_ROWS:
            index = self._seen - 1
        else:
            index = self._random.randrange(self._seen)
            if index >= COLLECT_ROWS:
                return
        for column in set(self._collected) | set(row):
            values = self._collected.setdefault(column, [None] * min(self._seen - 1, COLLECT_ROWS))
            if index < len(values):
                values[index] = row.get(column)
            else:
                values.append(row.get(column))

    def _finish_collecting(self, now: datetime) -> None:
        assert self.config.collect is not None
        if self._collect_started is None or now - self._collect_started < self.config.collect:
            return
        columns = {name: _as_column(values) for name, values in self._collected.items()}
        try:
            self.profile = build_profile(
                Table.from_mapping(columns),
                bins=self.config.bins,
                source=f"first {self.config.collect} of traffic from {self._collect_started:%Y-%m-%d %H:%M} UTC",
            )
        except DataError as exc:
            log.warning("%s: cannot build the drift reference yet: %s", self.name, exc)
            return
        log.info("%s: drift reference collected (%d rows)", self.name, self.profile.rows)
        self._collected = {}

    def evaluate(self, now: datetime) -> DriftVerdict | None:
        """Merge the window's buckets and judge them; None when there is too little to judge."""
        self.evaluated_at = now
        if self.profile is None:
            if self.config.collect is not None:
                self._finish_collecting(now)
            elif self.config.reference is not None:
                self.profile = load_reference(self.config)  # it may have been written since
            return None
        first = self._slot(now - self.config.window)
        for slot in [s for s in self.buckets if s < first]:
            del self.buckets[slot]
        current: dict[str, ColumnProfile] = {}
        rows = 0
        for bucket in self.buckets.values():
            for column in list(bucket.buffers):
                self._fold(bucket, column)
            rows += bucket.rows
            for column, sketch in bucket.sketches.items():
                into = current.get(column)
                if into is None:
                    into = current[column] = _empty_like(sketch)
                into.sketch.merge(sketch.sketch)  # type: ignore[arg-type]
        if rows < self.config.min_rows:
            return None
        prediction, label = self.special
        features = {c: p for c, p in current.items() if c not in (prediction, label)}
        reference = Profile(
            {c: p for c, p in self.profile.columns.items() if c not in (prediction, label)},
            self.profile.rows,
            self.profile.bins,
            self.profile.created_at,
            self.profile.source,
        )
        report = check_sketches(reference, features, rows, self.options)
        watched: dict[str, ColumnProfile | str] = {c: p for c, p in current.items() if c != label}
        for column in self.new_columns:
            watched.setdefault(column, ColumnProfile(Kind.CATEGORICAL, CategoricalSketch(), 0))
        quality = check_quality_sketches(
            Profile(
                {c: p for c, p in self.profile.columns.items() if c != label},
                self.profile.rows,
            ),
            watched,
            rows,
            options=self.quality_options,
        )
        verdict = DriftVerdict(
            features=report,
            prediction=self._single(prediction, current),
            label=self._single(label, current),
            rows=rows,
            invalid=dict(self.invalid),
            quality=quality,
        )
        self._track_since(verdict, now)
        return verdict

    def _single(self, column: str, current: dict[str, ColumnProfile]) -> ColumnDrift | None:
        assert self.profile is not None
        if column not in self.profile.columns or column not in current:
            return None
        found = check_sketches(
            Profile({column: self.profile.columns[column]}, self.profile.rows),
            {column: current[column]},
            current[column].sketch.n,
            self.options,
        )
        result = found.columns[0]
        return result if result.status == "tested" else None

    def _track_since(self, verdict: DriftVerdict, now: datetime) -> None:
        drifted = {c.name for c in verdict.features.drifted}
        for extra in (verdict.prediction, verdict.label):
            if extra is not None and extra.drifted:
                drifted.add(extra.name)
        for column in list(self.since):
            if column not in drifted:
                del self.since[column]
        for column in drifted:
            self.since.setdefault(column, now)

    def publish(self, store: SignalStore, now: datetime) -> DriftVerdict | None:
        verdict = self.evaluate(now)
        signals = (
            Signal.DATA_DRIFT,
            Signal.PREDICTION_DRIFT,
            Signal.LABEL_DRIFT,
            Signal.DATA_QUALITY,
        )
        if verdict is None:
            for signal in signals:
                store.forget(self.name, signal.value)
            return None
        report = verdict.features
        if report.tested:
            detail = self.describe_features(verdict)
            store.record(
                self.name,
                Signal.DATA_DRIFT.value,
                Sample(now, float(report.dataset_drift), {"detail": detail, "share": report.share}),
            )
        store.record(
            self.name,
            Signal.DATA_QUALITY.value,
            Sample(
                now,
                float(len(verdict.quality.findings)),
                {"detail": self.describe_quality(verdict)},
            ),
        )
        for signal, column in (
            (Signal.PREDICTION_DRIFT, verdict.prediction),
            (Signal.LABEL_DRIFT, verdict.label),
        ):
            if column is None:
                store.forget(self.name, signal.value)
            else:
                detail = self._line(column) + "\n" + self.hint(verdict)
                store.record(
                    self.name, signal.value, Sample(now, float(column.drifted), {"detail": detail})
                )
        return verdict

    def describe_features(self, verdict: DriftVerdict) -> str:
        report = verdict.features
        assert self.profile is not None
        lines = [
            f"{len(report.drifted)} of {len(report.tested)} features drifted "
            f"({report.share:.0%}; dataset drift at {report.drift_share:.0%}) over the last "
            f"{_span(self.config.window)} ({verdict.rows:,} rows) against the reference "
            f"({self.profile.source or 'profile'}, {self.profile.rows:,} rows):"
        ]
        ordered = sorted(report.drifted, key=lambda c: (self._since_ts(c.name), c.name))
        lines += ["- " + self._line(c) for c in ordered[:10]]
        if len(ordered) > 10:
            lines.append(f"- … and {len(ordered) - 10} more")
        odd = [c for c in report.columns if c.status not in ("tested",)]
        if odd:
            lines.append("Not tested: " + "; ".join(f"{c.name} ({c.message})" for c in odd[:5]))
        lines.append(self.hint(verdict))
        return "\n".join(lines)

    def describe_quality(self, verdict: DriftVerdict) -> str:
        findings = verdict.quality.findings
        lines = [
            f"{len(findings)} data quality problem(s) over the last {_span(self.config.window)} "
            f"({verdict.rows:,} rows):"
        ]
        lines += [f"- [{f.level}] {f.message}" for f in findings[:10]]
        if len(findings) > 10:
            lines.append(f"- … and {len(findings) - 10} more")
        for column, count in sorted(verdict.invalid.items()):
            lines.append(
                f"- `{column}`: {count:,} values were text, not numbers (counted as missing)"
            )
        lines.append(
            "Next: check the feature pipeline and upstream sources for these columns; "
            "drift verdicts on broken columns are not meaningful until they are fixed."
        )
        return "\n".join(lines)

    def _since_ts(self, column: str) -> float:
        since = self.since.get(column)
        return since.timestamp() if since else math.inf

    def _line(self, column: ColumnDrift) -> str:
        result = column.result
        if result is None:
            return f"{column.name}: {column.message}"
        if result.p_value is not None:
            measure = f"p = {result.p_value:.3g} (drift below {result.threshold:g})"
        else:
            measure = f"{result.statistic:.3g} (drift from {result.threshold:g})"
        verdict = "drifted" if result.drifted else "stable"
        since = self.since.get(column.name)
        when = f", since {since:%H:%M} UTC" if since and result.drifted else ""
        extra = (
            f"; new categories: {', '.join(column.new_categories[:3])}"
            if column.new_categories
            else ""
        )
        return f"{column.name}: {verdict}, {result.test} {measure}{when}{extra}"

    def hint(self, verdict: DriftVerdict, accuracy_fell: bool | None = None) -> str:
        return diagnose(
            inputs_drifted=verdict.features.dataset_drift or bool(verdict.features.drifted),
            outputs_drifted=bool(verdict.prediction and verdict.prediction.drifted),
            accuracy_fell=accuracy_fell,
            change_since=min(self.since.values(), default=None),
            versions=self.versions,
        )


def _sample_accuracy(profile: Profile | None, prediction: str, label: str) -> float | None:
    if profile is None:
        return None
    predictions, labels = profile.sample.get(prediction), profile.sample.get(label)
    if not predictions or not labels:
        return None
    pairs = [
        (p, t) for p, t in zip(predictions, labels, strict=False) if p is not None and t is not None
    ]
    if len(pairs) < 50:
        return None
    return sum(category_name(p) == category_name(t) for p, t in pairs) / len(pairs)


def diagnose(
    *,
    inputs_drifted: bool,
    outputs_drifted: bool,
    accuracy_fell: bool | None,
    change_since: datetime | None,
    versions: dict[str, datetime],
) -> str:
    """The first hint for the on-call person (the seed's "data drift? concept drift? a
    deployment?"): a new version first served shortly before the change points at the model;
    moved inputs point at the data; quality falling while inputs and outputs held points at the
    relation between them."""
    if change_since is not None and len(versions) > 1:  # the first version seen is no change
        version, first = max(versions.items(), key=lambda item: item[1])
        if first <= change_since and change_since - first <= timedelta(minutes=30):
            return (
                f"Hint: model change likely — version {version} was first served at "
                f"{first:%H:%M} UTC, just before the change began ({change_since:%H:%M} UTC); "
                "consider rolling back."
            )
    if inputs_drifted:
        return (
            "Hint: data drift likely — the inputs moved away from the reference; check upstream "
            "data and feature pipelines before retraining."
        )
    if accuracy_fell and not outputs_drifted:
        return (
            "Hint: concept drift likely — quality fell while inputs and predictions held; the "
            "relation between inputs and labels changed: retrain on recent labels."
        )
    if outputs_drifted:
        return "Hint: the predictions moved while the inputs held — check the model and its preprocessing."
    return "Hint: inputs and predictions match the reference."


def _as_column(values: list[Any]) -> list[Any]:
    return [category_name(v) if isinstance(v, bool) else v for v in values]


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
