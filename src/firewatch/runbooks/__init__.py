"""Runbooks: the seed's procedures as data, run step by step on incidents, every step on the timeline."""
