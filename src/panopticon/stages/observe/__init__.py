"""Observe: cameras and the other channels that see acts."""
