"""Panopticon: a fast, exact simulator of social credit systems over synthetic people."""

from __future__ import annotations

__version__ = "0.1.0"
