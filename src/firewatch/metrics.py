"""Firewatch's own Prometheus metrics, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from firewatch.incidents.lifecycle import OPEN_STATUSES
from firewatch.incidents.models import IncidentRow
from firewatch.severity import Severity
from firewatch.store import events as event_log
from firewatch.store.jobs import JobRow

if TYPE_CHECKING:
    from firewatch.app import Runtime


class FirewatchCollector:
    """Open incidents, event-log lag per consumer, jobs by state, writer throughput."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def describe(self) -> list[Metric]:
        return []  # collected lazily: nothing to check at registration time

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        open_incidents = GaugeMetricFamily(
            "firewatch_incidents_open",
            "Open incidents by severity, drills left out (see firewatch_drill_incidents_open).",
            labels=["severity"],
        )
        lag = GaugeMetricFamily(
            "firewatch_event_log_lag",
            "Events not yet processed, per consumer.",
            labels=["consumer"],
        )
        jobs = GaugeMetricFamily(
            "firewatch_jobs", "Jobs by kind and status.", labels=["kind", "status"]
        )
        with runtime.db.read_session() as session:
            drill = IncidentRow.drill_run_id.is_not(None)
            rows = session.execute(
                select(IncidentRow.severity, drill, func.count())
                .where(IncidentRow.status.in_([s.value for s in OPEN_STATUSES]))
                .group_by(IncidentRow.severity, drill)
            )
            counts: dict[tuple[str, bool], int] = {
                (str(severity), bool(is_drill)): int(count) for severity, is_drill, count in rows
            }
            for severity in Severity:
                open_incidents.add_metric([severity.value], counts.get((severity.value, False), 0))
            drills_open = sum(count for (_, is_drill), count in counts.items() if is_drill)
            last = event_log.last_event_id(session)
            for consumer in runtime.consumers:
                lag.add_metric(
                    [consumer.name], last - event_log.cursor_position(session, consumer.name)
                )
            backlog, oldest = runtime.journal.backlog()
            for kind, status, count in session.execute(
                select(JobRow.kind, JobRow.status, func.count()).group_by(
                    JobRow.kind, JobRow.status
                )
            ):
                jobs.add_metric([kind, status], count)
        yield open_incidents
        yield GaugeMetricFamily(
            "firewatch_drill_incidents_open",
            "Open incidents opened by a running drill.",
            value=drills_open,
        )
        yield lag
        yield jobs
        yield GaugeMetricFamily(
            "firewatch_alert_backlog", "Alerts accepted but not processed yet.", value=backlog
        )
        age = (runtime.clock.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "firewatch_alert_backlog_age_seconds",
            "How long the oldest unprocessed alert waited.",
            value=max(0.0, age),
        )
        yield CounterMetricFamily(
            "firewatch_ingest_refused",
            "Ingest requests refused because the alert backlog was full (503, nothing stored).",
            value=runtime.admission.refused,
        )
        if runtime.alerts is not None:
            yield CounterMetricFamily(
                "firewatch_alerts_processed", "Alerts processed.", value=runtime.alerts.processed
            )
        failures = CounterMetricFamily(
            "firewatch_consumer_failures",
            "Events a consumer could not handle.",
            labels=["consumer"],
        )
        for consumer in runtime.consumers:
            failures.add_metric([consumer.name], consumer.failures)
        yield failures
        yield CounterMetricFamily(
            "firewatch_writer_commits",
            "Write transactions committed.",
            value=runtime.writer.batches,
        )
        yield CounterMetricFamily(
            "firewatch_writer_units", "Units of work committed.", value=runtime.writer.units
        )
