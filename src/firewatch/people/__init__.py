"""People who respond to incidents: their handles, names and contact methods."""
