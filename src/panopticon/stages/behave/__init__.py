"""Behave: who commits which acts, general and specific deterrence."""
