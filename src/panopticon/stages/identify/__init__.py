"""Identify: attribution of each detection (face identification for cameras)."""
