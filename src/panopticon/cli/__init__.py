"""The command line: one file per command."""

from panopticon.cli.main import main

__all__ = ["main"]
