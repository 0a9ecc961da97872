"""Detection: probes and scrapes model services and turns what it sees into alerts."""
