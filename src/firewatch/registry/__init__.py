"""The built-in model registry: models, versions, aliases, deploy history and last known good."""
