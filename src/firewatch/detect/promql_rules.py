"""Rules on an existing Prometheus: a PromQL expression evaluated on an interval; each series it
returns is judged for the model its ``model_label`` names."""

from __future__ import annotations

import logging

from firewatch.detect.promql import PrometheusClient, PromQLError
from firewatch.detect.rule_config import Condition, RuleConfig
from firewatch.detect.rules import RuleEngine
from firewatch.detect.signals import Sample

log = logging.getLogger(__name__)


class PromQLRule:
    def __init__(
        self, rule: RuleConfig, *, prometheus: PrometheusClient, engine: RuleEngine
    ) -> None:
        if rule.promql is None:
            raise ValueError(f"rule {rule.name} has no promql")
        self.rule = rule
        self.prometheus = prometheus
        self.engine = engine
        self._seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.last_error: str | None = None

    async def check(self) -> None:
        """Query once; judge every returned series; series that vanished count as false."""
        assert self.rule.promql is not None
        try:
            samples = await self.prometheus.query(self.rule.promql)
        except PromQLError as exc:
            if str(exc) != self.last_error:
                log.warning("rule %s: %s", self.rule.name, exc)
            self.last_error = str(exc)
            return  # no data: nothing changes
        self.last_error = None
        now = self.engine.clock.now()
        current: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for sample in samples:
            model = sample.labels.get(self.rule.model_label, "")
            extra = {
                k: v
                for k, v in sample.labels.items()
                if k not in (self.rule.model_label, "__name__")
            }
            key = (model, tuple(sorted(extra.items())))
            current.add(key)
            value = Sample(now, sample.value)
            threshold = self.rule.threshold or 0.0
            holds = (
                value.value > threshold
                if self.rule.condition is Condition.ABOVE
                else value.value < threshold
            )
            await self.engine.judge(self.rule, model, holds, value, extra)
        for model, labels in self._seen - current:  # an absent series is not firing (Prometheus)
            await self.engine.judge(self.rule, model, False, None, dict(labels))
        self._seen = current
