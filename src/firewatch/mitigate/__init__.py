"""Mitigation actions on a model (roll back, ...) and the verification that they worked."""
