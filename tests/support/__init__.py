"""Test helpers: real local servers on ephemeral ports, and database fixtures."""
