"""Drills: inject a fault into a model fleet, let Firewatch respond, measure it against the SLA.

Usage: ``firewatch drill run model-down`` (one scenario) or ``firewatch drill run all`` (a game
day with a Markdown report). Drill incidents are marked and left out of real statistics.
"""
