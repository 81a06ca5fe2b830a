"""Society: households, work and school groups, friends, avoidance."""
