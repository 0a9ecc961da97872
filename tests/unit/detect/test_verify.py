"""Which of the model's signals can confirm an alert, from the alert's name."""

from __future__ import annotations

import pytest

from firewatch.detect.rule_config import Signal
from firewatch.detect.verify import signals_about


@pytest.mark.parametrize(
    ("alertname", "signals"),
    [
        ("ModelUnavailable", ()),
        ("TargetDown", ()),
        ("up", ()),
        ("HighErrorRate", (Signal.ERROR_RATE,)),
        ("Inference5xx", (Signal.ERROR_RATE,)),
        ("SlowResponses", (Signal.LATENCY_MEAN_S, Signal.LATENCY_P95_S)),
        ("P99LatencyHigh", (Signal.LATENCY_MEAN_S, Signal.LATENCY_P95_S)),
        ("AccuracyLow", (Signal.ACCURACY,)),
        ("ContainerOOM", (Signal.MEMORY_FRACTION,)),
        ("HighCPU", (Signal.CPU_FRACTION,)),
    ],
)
def test_signals_that_confirm_an_alert(alertname: str, signals: tuple[Signal, ...]) -> None:
    assert signals_about(alertname) == signals


def test_a_name_that_says_nothing_is_checked_against_everything() -> None:
    assert Signal.ERROR_RATE in signals_about("FraudModelWeird")
    assert Signal.ACCURACY in signals_about("FraudModelWeird")
