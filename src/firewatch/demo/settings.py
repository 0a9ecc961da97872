"""Settings of the demo model service: which model, from which registry, how often to look."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

DEFAULT_ALIAS = "production"
DEFAULT_POLL_INTERVAL = 0.5
DEFAULT_REGISTRY_TIMEOUT = 2.0
DEFAULT_EVENTS_INTERVAL = 1.0


@dataclass(frozen=True)
class DemoSettings:
    """How one demo service finds the version to serve.

    ``http_client`` is used to talk to the registry when given (tests inject one backed by
    ``httpx.MockTransport``); it is then not closed by the app. ``random_seed`` makes the injected
    error rates reproducible.

    With an ``ingest_token``, the service reports each prediction (its features, class, score,
    latency and version, or the error) to the events API of the Firewatch at ``registry_url``, in
    a batch every ``events_interval`` seconds.
    """

    model_name: str
    registry_url: str
    token: str | None = None
    alias: str = DEFAULT_ALIAS
    poll_interval: float = DEFAULT_POLL_INTERVAL
    registry_timeout: float = DEFAULT_REGISTRY_TIMEOUT
    http_client: httpx.AsyncClient | None = None
    random_seed: int | None = None
    ingest_token: str | None = None
    events_interval: float = DEFAULT_EVENTS_INTERVAL

    def __post_init__(self) -> None:
        if not self.model_name.strip():
            raise ValueError("model_name cannot be empty")
        if not self.registry_url.startswith(("http://", "https://")):
            raise ValueError(
                f"registry_url must start with http:// or https://, got {self.registry_url!r}"
            )
        if not self.alias.strip():
            raise ValueError("alias cannot be empty")
        if not self.poll_interval > 0:
            raise ValueError(f"poll_interval must be positive, got {self.poll_interval}")
        if not self.registry_timeout > 0:
            raise ValueError(f"registry_timeout must be positive, got {self.registry_timeout}")
        if not self.events_interval > 0:
            raise ValueError(f"events_interval must be positive, got {self.events_interval}")
