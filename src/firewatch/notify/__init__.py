"""Notification: routing incidents to people and channels, delivered at least once from the event log."""
