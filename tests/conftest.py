"""Shared fixtures: small scenarios and runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import panopticon as pn


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    """A complete minimal run at 20,000 citizens x 120 days."""
    out: Path = tmp_path_factory.mktemp("runs") / "small"
    return pn.run(pn.load("minimal", population=20_000, days=120, seed=7), out=out)
