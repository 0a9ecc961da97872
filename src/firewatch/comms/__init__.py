"""Communication: the seed's incident and resolution messages, rendered from the incident record."""
