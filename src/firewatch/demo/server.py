"""Running the demo model service with uvicorn."""

from __future__ import annotations

import uvicorn

from firewatch.demo.app import create_demo_app
from firewatch.demo.settings import DemoSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081


def serve_demo_model(
    settings: DemoSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> None:
    """Serve the demo model on ``host:port`` until interrupted (uvicorn at log level "warning")."""
    uvicorn.run(create_demo_app(settings), host=host, port=port, log_level="warning")
