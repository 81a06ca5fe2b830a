"""`panopticon explore`: a local web app (Panel) to set a scenario, run it and see it.

Panel is an optional extra (``pip install "panopticon[explore]"``); nothing here imports
it at package import, so ``panopticon --help`` stays fast and the pure logic
(:mod:`panopticon.explore.params`, :mod:`panopticon.explore.runner`) works without it.
The page itself is :mod:`panopticon.explore.app`.
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = 'pip install "panopticon[explore]"'


def panel_available() -> bool:
    """Whether Panel can be imported (the `explore` extra is installed)."""
    return importlib.util.find_spec("panel") is not None
