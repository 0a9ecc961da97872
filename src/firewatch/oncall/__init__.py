"""On-call schedules: rotations in a time zone, overrides, and who is on call at any instant."""
