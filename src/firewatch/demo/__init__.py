"""A real scikit-learn model service with fault injection, plus a traffic generator, for demos."""

from firewatch.demo.app import create_demo_app
from firewatch.demo.server import serve_demo_model
from firewatch.demo.settings import DemoSettings
from firewatch.demo.traffic import (
    LabelOptions,
    TrafficOptions,
    TrafficSummary,
    run_traffic,
    run_traffic_async,
)

__all__ = [
    "DemoSettings",
    "LabelOptions",
    "TrafficOptions",
    "TrafficSummary",
    "create_demo_app",
    "run_traffic",
    "run_traffic_async",
    "serve_demo_model",
]
