"""The HTTP API (FastAPI): health, metrics and the JSON API under /api/v1."""
