"""Post-mortems: the incident record, timeline, impact, model versions and the seed's four questions."""
