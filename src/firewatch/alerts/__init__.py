"""Alerts: the shared label set, fingerprints, and turning alerts into incidents."""
