"""Incidents: the record, its lifecycle, its timeline and its SLA clocks."""
