"""The YAML configuration: models to watch, channels, routing, severity policy and people.

The file holds what a team reviews in code; run-time state lives in the database. Every error
names the file, the field path and what was expected. Secrets are never written in the file:
fields ending in ``_env`` name the environment variable that holds them.
"""

from __future__ import annotations

import fnmatch
import os
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from firewatch.alerts.suppression import InhibitRule, MaintenanceWindow, default_inhibit_rules
from firewatch.comms.settings import CommsConfig
from firewatch.detect.rule_config import RuleConfig
from firewatch.drills.settings import DrillsConfig
from firewatch.duration import Duration
from firewatch.errors import ConfigError
from firewatch.notify.channels.settings import ChannelConfig as ChannelConfig
from firewatch.notify.channels.settings import ConsoleChannel as ConsoleChannel
from firewatch.notify.channels.settings import WebhookChannel as WebhookChannel
from firewatch.notify.policy import EscalationConfig
from firewatch.oncall.schedules import OncallConfig
from firewatch.people.schemas import PersonIn
from firewatch.registry.adapters.settings import BuiltinServing, ServingConfig, serving_problem
from firewatch.severity import Severity, SeverityPolicy

CONFIG_ENV = "FIREWATCH_CONFIG"
DEFAULT_CONFIG_FILE = Path("firewatch.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeConfig(_Section):
    """HTTP health probing of one model service (Kubernetes-like defaults)."""

    interval: Duration = Field(timedelta(seconds=10), description="Time between probes.")
    initial_delay: Duration = Field(
        timedelta(0), description="Wait this long after start-up before the first probe."
    )
    timeout: Duration = Field(timedelta(seconds=1), description="A probe slower than this fails.")
    failure_threshold: int = Field(3, ge=1, description="Consecutive failures before alerting.")
    recovery_threshold: int = Field(1, ge=1, description="Consecutive successes to clear.")
    max_backoff: Duration = Field(
        timedelta(seconds=30),
        description="While a target cannot be reached at all, the interval doubles up to this.",
    )


class HealthCheck(StrEnum):
    """Health endpoint conventions of model servers (the path is derived from ``url``)."""

    HEALTH = "health"  # GET /health, 2xx
    HEALTHZ = "healthz"  # GET /healthz, 2xx
    OIP_LIVE = "oip-live"  # Open Inference Protocol (KServe v2, Triton, MLServer) /v2/health/live
    OIP_READY = "oip-ready"  # /v2/health/ready
    OIP_MODEL = "oip-model"  # /v2/models/{name}/ready
    KSERVE_V1 = "kserve-v1"  # /v1/models/{name}, JSON "ready": true
    TORCHSERVE = "torchserve"  # /ping, JSON "status": "Healthy"
    BENTOML = "bentoml"  # /readyz, 2xx


class ScrapeConfig(_Section):
    """Scraping the service's Prometheus ``/metrics``."""

    interval: Duration = Field(timedelta(seconds=15), description="Time between scrapes.")
    window: Duration = Field(
        timedelta(seconds=60), description="Rates and means are computed over this window."
    )
    min_requests: int = Field(
        20, ge=1, description="Error rates and latencies of fewer requests are not judged."
    )
    mapping: str = Field(
        "auto",
        description="Metric names of: auto, firewatch, kserve, triton, seldon, bentoml, torchserve.",
    )

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str) -> str:
        known = ("auto", "firewatch", "kserve", "triton", "seldon", "bentoml", "torchserve")
        if value not in known:
            raise ValueError(
                f"unknown metrics mapping {value!r}: expected one of {', '.join(known)}"
            )
        return value


class LimitsConfig(_Section):
    """The service's resource limits, which the resource rules compare usage with."""

    memory_bytes: int | None = Field(None, gt=0, description="Memory limit (e.g. the pod's).")
    cpu_cores: float | None = Field(None, gt=0, description="CPU limit in cores.")


class EventsConfig(_Section):
    """Inference events posted to ``/api/v1/models/{model}/events`` (and labels to ``/labels``).

    They are aggregated into time buckets over ``window`` (bounded memory, not a table); the
    signals they give are judged every ``evaluate_every``."""

    window: Duration = Field(
        timedelta(minutes=5), description="Signals are computed over this much recent traffic."
    )
    evaluate_every: Duration = Field(
        timedelta(seconds=10), description="How often the event signals are judged by the rules."
    )
    min_events: int = Field(
        20, ge=1, description="Error rates and latencies of fewer events are not judged."
    )
    min_labels: int = Field(
        50, ge=1, description="Accuracy over fewer joined labels is not judged."
    )
    label_horizon: Duration = Field(
        timedelta(hours=24),
        description="How long a prediction waits for its label (ground truth arrives later).",
    )
    max_pending: int = Field(
        100_000,
        ge=0,
        description="Predictions kept waiting for a label at most; beyond it the oldest go.",
    )
    task: Literal["auto", "classification", "regression"] = Field(
        "auto",
        description="Which quality metrics labels give: classification (accuracy, precision, "
        "recall, F1, ROC-AUC) or regression (MAE, RMSE); auto: regression when predictions and "
        "labels are numbers that are not all whole.",
    )
    positive_label: str | None = Field(
        None,
        description="The positive class for precision / recall / F1 / ROC-AUC (default: 1 or "
        "true for binary labels; other labels are macro-averaged).",
    )


class DriftConfig(_Section):
    """Drift and data quality of the features, predictions and labels in inference events,
    against a reference (a CSV / Parquet file or a saved profile, or the first ``collect`` of
    traffic). See docs/drift.md for the tests and their defaults."""

    reference: Path | None = Field(
        None,
        description="Reference data: .csv, .parquet, or a profile from `firewatch drift profile`.",
    )
    collect: Duration | None = Field(
        None, description="Without a file: take this much of the first traffic as the reference."
    )
    prediction_column: str = Field("prediction", description="Reference column of predictions.")
    label_column: str = Field("label", description="Reference column of true labels.")
    window: Duration = Field(timedelta(hours=1), description="Current window compared.")
    evaluate_every: Duration = Field(timedelta(minutes=1), description="How often it is judged.")
    min_rows: int = Field(200, ge=1, description="Fewer current rows than this are not judged.")
    test: str | None = Field(None, description="One test for every column (default: per column).")
    column_tests: dict[str, str] = Field(default_factory=dict, description="Test per column.")
    threshold: float | None = Field(None, gt=0, description="Overrides each test's threshold.")
    drift_share: float = Field(
        0.5, gt=0, le=1, description="Dataset drift when this share of features drifted."
    )
    bins: int = Field(1000, ge=10, le=100_000, description="Profile bins per numerical column.")
    null_rate_points: float = Field(
        5.0, ge=0, description="Quality: flag a null rate this many points above the reference."
    )

    @model_validator(mode="after")
    def _check(self) -> DriftConfig:
        from firewatch.drift.stattests import get

        if self.reference is None and self.collect is None:
            raise ValueError("drift needs a reference file or a collect period")
        if self.reference is not None and self.reference.is_dir():
            raise ValueError(f"drift reference {self.reference} is a directory, not a file")
        for name in [self.test, *self.column_tests.values()]:
            if name is not None:
                get(name)
        return self


REGION_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class RollbackConfig(_Section):
    """Which earlier version counts as "last known good" for a rollback (or a reroute)."""

    min_healthy_time: Duration = Field(
        timedelta(minutes=5),
        description="A version qualifies only if a probe saw it healthy and it then kept serving "
        "at least this long without a failure (from its first healthy probe until it was "
        "replaced). A version that was live for a few seconds before the next deploy has not "
        "proven anything.",
    )


class EndpointConfig(_Section):
    """One region's endpoint of a model service (``models[].endpoints``; the first is primary)."""

    region: str = Field(pattern=REGION_PATTERN, description="Region name, e.g. eu-west.")
    url: HttpUrl = Field(description="Base URL in that region; the health path derives from it.")
    health_url: HttpUrl | None = Field(None, description="Explicit health URL (overrides url).")


class LogSourceConfig(_Section):
    """Where the model service's recent log lines come from — exactly one of ``file``,
    ``command`` or ``url`` — for the investigation at incident open and the ``collect_logs``
    runbook step, which pick out crash, database and application error lines."""

    file: Path | None = Field(None, description="A log file; its last `lines` lines are read.")
    command: list[str] | None = Field(
        None,
        description="A command (argv list, no shell) printing the log, e.g. "
        "[kubectl, logs, deploy/iris, --tail=200]; killed with its process group on timeout.",
    )
    url: HttpUrl | None = Field(None, description="GET this URL: plain text or a JSON list.")
    bearer_token_env: str | None = Field(
        None, description="Environment variable with a token sent to `url` as Bearer."
    )
    lines: int = Field(200, ge=1, le=10_000, description="How many of the last lines to read.")
    timeout: Duration = Field(
        timedelta(seconds=10), description="Give up on the source after this."
    )
    patterns: dict[Literal["crash", "database", "application"], str] = Field(
        default_factory=dict,
        description="A regular expression replacing a category's default (docs/runbooks.md).",
    )

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "command is an argv list, e.g. [kubectl, logs, deploy/iris, --tail=200]; "
                "for a shell pipeline use [sh, -c, '…']"
            )
        return value

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for category, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"patterns.{category}: {pattern!r} is not a valid regular expression ({exc})"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> LogSourceConfig:
        given = [name for name in ("file", "command", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            got = f" (got {' and '.join(given)})" if given else ""
            raise ValueError(f"logs: give exactly one of file, command or url{got}")
        if self.command is not None and not self.command:
            raise ValueError("logs.command is empty: give the program and its arguments")
        if self.bearer_token_env is not None and self.url is None:
            raise ValueError("logs.bearer_token_env is only used with url")
        if self.timeout <= timedelta(0):
            raise ValueError("logs.timeout must be longer than 0s")
        return self


class ModelConfig(_Section):
    """A model service Firewatch watches."""

    name: str = Field(description="Model name, as in the registry and alert labels.")
    url: HttpUrl | None = Field(
        None, description="Base URL; the health check path derives from it."
    )
    health_check: HealthCheck = Field(
        HealthCheck.HEALTH, description="Which health convention the server follows."
    )
    health_url: HttpUrl | None = Field(None, description="Explicit health URL (overrides url).")
    metrics_url: HttpUrl | None = Field(None, description="Prometheus text endpoint.")
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    drift: DriftConfig | None = Field(None, description="Drift and data quality detection.")
    logs: LogSourceConfig | None = Field(
        None, description="The service's recent log lines, gathered when an incident opens."
    )
    baseline_accuracy: float | None = Field(
        None, gt=0, le=1, description="Expected accuracy (for the accuracy-drop severity bands)."
    )
    validation: ValidationConfig | None = Field(
        None, description="Held-out test set the validate_test_set runbook step scores."
    )
    runbook: str | None = Field(
        "model-unavailable", description="Runbook run when this model's service is unavailable."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra alert labels (team).")
    serving: ServingConfig = Field(
        default_factory=BuiltinServing,
        description="How the serving system follows a registry rollback: builtin (the app polls "
        "Firewatch's registry), mlflow (move an alias, reload the server) or http (a hook); "
        "see docs/registries.md.",
    )

    @model_validator(mode="after")
    def _serving_complete(self) -> ModelConfig:
        url = str(self.url) if self.url is not None else None
        if problem := serving_problem(self.serving, model_url=url):
            raise ValueError(problem)
        return self

    rollback: RollbackConfig = Field(default_factory=RollbackConfig)
    endpoints: list[EndpointConfig] = Field(
        default_factory=list,
        description="Alternate endpoints by region, the first the primary (instead of url / "
        "health_url). The active region is kept in the registry; probes and health steps follow "
        "it after a failover.",
    )
    failover_hook: str | None = Field(
        None,
        description="Name of a hook under runbooks.hooks that moves the traffic (DNS, load "
        "balancer) when failover_region switches regions; it gets args {model, from, to}.",
    )

    @model_validator(mode="after")
    def _endpoints(self) -> ModelConfig:
        if self.endpoints and (self.url is not None or self.health_url is not None):
            raise ValueError(
                "give either url / health_url or endpoints (the first endpoint is the primary), "
                "not both"
            )
        _unique("endpoints", [e.region for e in self.endpoints])
        return self

    def endpoint(self, region: str | None) -> EndpointConfig | None:
        """The endpoint of ``region`` (None: the primary); None without endpoints or if unknown."""
        if not self.endpoints:
            return None
        if region is None:
            return self.endpoints[0]
        return next((e for e in self.endpoints if e.region == region), None)

    def base_url(self, region: str | None = None) -> str | None:
        """The service's base URL (``url``); with endpoints, that of ``region`` (default: the
        primary)."""
        if self.endpoints:
            return str((self.endpoint(region) or self.endpoints[0]).url)
        return str(self.url) if self.url is not None else None

    def probe_url(self, region: str | None = None) -> str | None:
        """The URL the health probe checks, from ``health_url`` or ``url`` + the convention;
        with endpoints, that of ``region`` (default: the primary)."""
        if self.endpoints:
            endpoint = self.endpoint(region) or self.endpoints[0]
            if endpoint.health_url is not None:
                return str(endpoint.health_url)
            return self._health_path(str(endpoint.url))
        if self.health_url is not None:
            return str(self.health_url)
        if self.url is None:
            return None
        return self._health_path(str(self.url))

    def _health_path(self, base: str) -> str:
        paths = {
            HealthCheck.HEALTH: "/health",
            HealthCheck.HEALTHZ: "/healthz",
            HealthCheck.OIP_LIVE: "/v2/health/live",
            HealthCheck.OIP_READY: "/v2/health/ready",
            HealthCheck.OIP_MODEL: f"/v2/models/{self.name}/ready",
            HealthCheck.KSERVE_V1: f"/v1/models/{self.name}",
            HealthCheck.TORCHSERVE: "/ping",
            HealthCheck.BENTOML: "/readyz",
        }
        return base.rstrip("/") + paths[self.health_check]


class Intent(StrEnum):
    """What a notification is for; the seed's `notify_incident` speaks in these."""

    PAGE = "page"
    CHAT = "chat"
    EMAIL = "email"
    TICKET = "ticket"


class RouteTarget(_Section):
    intent: Intent
    target: str = Field(description="Who or where: on-call, #channel, address, project.")


def _seed_routes() -> dict[Severity, list[RouteTarget]]:
    """The seed's `notify_incident`: SEV1 page + chat + email, SEV2 chat + email, else a ticket."""
    return {
        Severity.SEV1: [
            RouteTarget(intent=Intent.PAGE, target="on-call"),
            RouteTarget(intent=Intent.CHAT, target="#critical-incidents"),
            RouteTarget(intent=Intent.EMAIL, target="ml-team@company.com"),
        ],
        Severity.SEV2: [
            RouteTarget(intent=Intent.CHAT, target="#ml-incidents"),
            RouteTarget(intent=Intent.EMAIL, target="ml-lead@company.com"),
        ],
        Severity.SEV3: [RouteTarget(intent=Intent.TICKET, target="ML")],
        Severity.SEV4: [RouteTarget(intent=Intent.TICKET, target="ML")],
    }


class RouteOverride(_Section):
    """Routing for the incidents whose labels match (``model`` is the incident's model; other
    keys are its labels, e.g. ``team`` from the model's config). Shell-style patterns allowed.
    What is not given comes from the defaults."""

    match: dict[str, str] = Field(min_length=1, description="Label → value (or pattern).")
    routes: dict[Severity, list[RouteTarget]] | None = None
    channels_for: dict[Intent, list[str]] | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        return all(
            key in labels and fnmatch.fnmatchcase(labels[key], pattern)
            for key, pattern in self.match.items()
        )


class NotifyConfig(_Section):
    """Routing: severity → intents (the seed's policy), intent → channels; overrides by labels."""

    routes: dict[Severity, list[RouteTarget]] = Field(default_factory=_seed_routes)
    channels_for: dict[Intent, list[str]] = Field(
        default_factory=lambda: {intent: ["console"] for intent in Intent},
        description="Which configured channels carry each intent.",
    )
    overrides: list[RouteOverride] = Field(
        default_factory=list, description="Routing by labels (model, team); the first match wins."
    )
    max_attempts: int = Field(8, ge=1, le=50, description="Delivery attempts before giving up.")

    def for_labels(self, labels: dict[str, str]) -> NotifyConfig:
        """The routing that applies to an incident with these labels (``model`` included)."""
        for override in self.overrides:
            if override.matches(labels):
                return self.model_copy(
                    update={
                        "routes": override.routes if override.routes is not None else self.routes,
                        "channels_for": override.channels_for
                        if override.channels_for is not None
                        else self.channels_for,
                        "overrides": [],
                    }
                )
        return self


class IncidentsConfig(_Section):
    group_by: list[str] = Field(default_factory=lambda: ["model"], min_length=1)
    resolve_quiet_period: Duration = Field(
        timedelta(minutes=5), description="Alerts must stay clear this long before auto-resolve."
    )
    auto_resolve: bool = True


class PrometheusConfig(_Section):
    """An existing Prometheus server that PromQL rules query."""

    url: HttpUrl
    bearer_token_env: str | None = Field(None, description="Environment variable with a token.")
    timeout: Duration = timedelta(seconds=5)


class AlertsConfig(_Section):
    """Alert processing: inhibition (Alertmanager's inhibit_rules) and maintenance windows."""

    inhibit_rules: list[InhibitRule] = Field(default_factory=default_inhibit_rules)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    processor: Literal["thread", "process"] = Field(
        "thread",
        description="Where alerts are processed: in the server (simplest, lowest latency) or in "
        "a process of its own (for high alert volume: the API keeps a core to itself).",
    )
    verify_external: bool = Field(
        True,
        description="Check an alert from Alertmanager, Grafana or PagerDuty against the model "
        "(re-probe, re-read metrics) before paging, for models with a url or metrics_url.",
    )
    max_backlog: int = Field(
        100_000,
        ge=0,
        description="Alerts accepted but not processed yet above which ingest slows senders down "
        "(waits, then answers 503 with Retry-After); 0 = no limit.",
    )
    backlog_wait: Duration = Field(
        timedelta(seconds=5),
        description="How long an ingest request waits for room in the backlog before its 503.",
    )


def _seed_auto_actions() -> dict[Severity, list[str]]:
    return {Severity.SEV1: ["rollback"], Severity.SEV2: ["rollback"]}


class ActionPolicy(_Section):
    """Which runbook actions Firewatch may run without a person, per severity. Others are
    proposed on the timeline and to the on-call person, who approves with one command
    (``firewatch runbook approve INC-…``). The default lets a rollback to a verified last-good
    version run alone for SEV1 and SEV2 only: the outage costs more than the risk there."""

    auto: dict[Severity, list[str]] = Field(
        default_factory=_seed_auto_actions,
        description="Severity → action kinds that run automatically: rollback, fallback, "
        "reroute, failover, restart, scale, config_change, pipeline_restart, data_rollback, "
        "retrain, custom; or '*' for all.",
    )
    approval_timeout: Duration = Field(
        timedelta(minutes=30),
        description="How long a proposed action waits for a decision before the step fails "
        "(and the runbook escalates).",
    )

    def allows(self, severity: Severity, kind: str) -> bool:
        kinds = self.auto.get(severity, [])
        return "*" in kinds or kind in kinds


VALIDATION_EXCLUDE = ("prediction", "predictions", "predicted", "score", "scores", "probability")


class ValidationConfig(_Section):
    """Validation on a held-out test set with true labels (the seed's "run validation on test set,
    compare to baseline accuracy"): its rows are sent to the model and the answers scored."""

    test_set: Path = Field(description="CSV or Parquet file of features and true labels.")
    label_column: str = Field("label", description="The column of true labels.")
    feature_columns: list[str] | None = Field(
        None, description="Features sent, in order (default: every column not excluded)."
    )
    exclude: list[str] = Field(
        default_factory=lambda: list(VALIDATION_EXCLUDE),
        description="Columns that are not features (besides label_column): predictions, scores.",
    )
    predict_url: HttpUrl | None = Field(
        None,
        description="Where to send rows (default from the model's url: /predict, "
        "/v2/models/{name}/infer or /invocations by protocol).",
    )
    protocol: Literal["firewatch", "oip-v2", "mlflow"] = Field(
        "firewatch",
        description="firewatch: {instances} → {predictions}; oip-v2: Open Inference Protocol "
        "v2 (KServe, Triton, MLServer); mlflow: /invocations with dataframe_split.",
    )
    oip_input_name: str = Field("input-0", description="oip-v2: the name of the input tensor.")
    batch_size: int = Field(100, ge=1, le=10_000, description="Rows per request.")
    baseline_accuracy: float | None = Field(
        None, gt=0, le=1, description="Expected accuracy (default: the model's baseline_accuracy)."
    )
    tolerance: float = Field(
        0.05, ge=0, lt=1, description="Accuracy more than this below the baseline is degraded."
    )
    timeout: Duration = Field(timedelta(seconds=10), description="Per request.")


class HookConfig(_Section):
    """A command or webhook that runbook actions call by name (restart, scale, apply a config
    change, restart a pipeline, roll back a data version, trigger retraining). A command gets
    ``FIREWATCH_ACTION``, ``FIREWATCH_ARGS`` (JSON) and the incident in its environment; a webhook
    gets ``{action, args, incident, sent_at}`` as JSON, signed per Standard Webhooks with
    ``secret_env``."""

    command: list[str] | None = Field(None, min_length=1, description="argv to run.")
    url: HttpUrl | None = Field(None, description="Webhook URL (instead of a command).")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    secret_env: str | None = Field(
        None, description="Environment variable with a whsec_… secret to sign the body."
    )
    bearer_token_env: str | None = Field(
        None, description="Environment variable with a token sent as Authorization: Bearer."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra (non-secret) headers.")
    cwd: Path | None = Field(None, description="Working directory of the command.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    timeout: Duration = Field(timedelta(seconds=30), description="Longer than this fails.")
    description: str = Field("", description="What it does, for the person reading the runbook.")

    @model_validator(mode="after")
    def _one_target(self) -> HookConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("a hook gives either command (an argv list) or url (a webhook)")
        return self


class RunbooksConfig(_Section):
    directory: Path | None = Field(None, description="Extra runbook YAML files.")
    policy: ActionPolicy = Field(default_factory=ActionPolicy)
    recent_deploy_window: Duration = Field(
        timedelta(minutes=30),
        description="A deploy this recent before the fault is the likely cause (rollback).",
    )
    verify_timeout: Duration = Field(
        timedelta(seconds=60), description="How long a rollback has to show recovery."
    )
    hooks: dict[str, HookConfig] = Field(
        default_factory=dict,
        description="Named commands/webhooks runbook actions call: restart, scale, config, "
        "pipeline, data rollback, retraining.",
    )


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    metrics_require_token: bool = Field(False, description="Put /metrics behind a read token.")


class FirewatchConfig(_Section):
    """The whole configuration file."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    severity_policy: SeverityPolicy = Field(default_factory=SeverityPolicy)
    people: list[PersonIn] = Field(default_factory=list)
    oncall: OncallConfig = Field(default_factory=OncallConfig, description="On-call schedules.")
    models: list[ModelConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(
        default_factory=lambda: [ConsoleChannel(type="console", name="console")]  # type: ignore[arg-type]
    )
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    comms: CommsConfig = Field(default_factory=CommsConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    rules: list[RuleConfig] = Field(
        default_factory=list, description="Alert rules; the built-ins apply unless replaced."
    )
    prometheus: PrometheusConfig | None = None
    runbooks: RunbooksConfig = Field(default_factory=RunbooksConfig)
    drills: DrillsConfig = Field(
        default_factory=DrillsConfig, description="Scheduled drills (`firewatch drill`)."
    )
    retention: Duration = Field(
        timedelta(days=30),
        description="Cleared alerts, finished jobs and processed events older than this are "
        "deleted (incidents and their timelines are kept).",
    )

    @model_validator(mode="after")
    def _cross_references(self) -> FirewatchConfig:
        _unique("models", [m.name for m in self.models])
        _unique("channels", [c.name for c in self.channels])
        _unique("people", [p.handle for p in self.people])
        if unknown := self.oncall.unknown_participants({p.handle for p in self.people}):
            raise ValueError("; ".join(unknown))
        handles = {p.handle for p in self.people}
        schedules = {s.name for s in self.oncall.schedules}
        for policy in self.escalation.policies:
            for number, level in enumerate(policy.levels, 1):
                for target in level.targets:
                    where = f"escalation policy {policy.name}, level {number}"
                    if target.person and target.person not in handles:
                        raise ValueError(
                            f"{where}: no person {target.person!r} under people "
                            f"(declared: {', '.join(sorted(handles)) or 'none'})"
                        )
                    if target.schedule and target.schedule not in schedules:
                        raise ValueError(
                            f"{where}: no on-call schedule {target.schedule!r} under "
                            f"oncall.schedules (defined: {', '.join(sorted(schedules)) or 'none'})"
                        )
        for index, model in enumerate(self.models):
            if model.failover_hook and model.failover_hook not in self.runbooks.hooks:
                raise ValueError(
                    f"models.{index}.failover_hook names hook {model.failover_hook!r}, which is "
                    "not defined under runbooks.hooks (defined: "
                    f"{', '.join(sorted(self.runbooks.hooks)) or 'none'})"
                )
        _unique("rules", [r.name for r in self.rules])
        self.drills.check([m.name for m in self.models])
        if self.prometheus is None and any(r.promql for r in self.rules):
            raise ValueError("rules with promql need a prometheus: section with its url")
        names = {c.name for c in self.channels}
        sections = [("notify.channels_for", self.notify.channels_for)] + [
            (f"notify.overrides.{n}.channels_for", o.channels_for)
            for n, o in enumerate(self.notify.overrides)
            if o.channels_for is not None
        ]
        for where, mapping in sections:
            for intent, channels in mapping.items():
                for name in channels:
                    if name not in names:
                        raise ValueError(
                            f"{where}.{intent.value} names channel {name!r}, which is not defined "
                            f"under channels (defined: {', '.join(sorted(names)) or 'none'})"
                        )
        return self

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)


def _unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{section}: {name!r} is defined twice")
        seen.add(name)


def resolve_config_path(explicit: Path | None) -> Path | None:
    """``explicit``, else ``$FIREWATCH_CONFIG``, else ./firewatch.yaml if it exists, else None."""
    if explicit is not None:
        return explicit
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_config(path: Path | None) -> FirewatchConfig:
    """Read and validate the config file; None gives the defaults (no models watched)."""
    if path is None:
        return FirewatchConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    try:
        return FirewatchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{path}: invalid configuration:\n" + format_validation_error(exc),
            details={"errors": _error_list(exc)},
        ) from None


def _error_list(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(top level)", "problem": err["msg"]}
        for err in exc.errors()
    ]


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``  models.0.probe.interval: <what was expected> (got <value>)``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        if repr(got) in message:
            shown = ""
        lines.append(f"  {where}: {message}{shown}")
    return "\n".join(lines)
