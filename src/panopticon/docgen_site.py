"""The MkDocs hook of the documentation site (`mkdocs.yml`, `hooks:`): an optional nav.

The nav in `mkdocs.yml` lists every page the site is meant to have, some of them still
being written. A nav entry whose Markdown file does not exist (yet) would fail
`mkdocs build --strict`; this hook drops such entries, and any section left empty, before
the build, so the strict build passes both before and after the pages appear. Entries
whose file exists, external links and pages outside the nav are left as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def present(nav: list[Any], docs_dir: Path) -> list[Any]:
    """`nav` without the pages whose file is missing from `docs_dir` (and empty sections)."""
    out: list[Any] = []
    for item in nav:
        title, target = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(target, list):
            kept = present(target, docs_dir)
            if kept:
                out.append({title: kept} if title is not None else kept)
            continue
        is_page = isinstance(target, str) and "://" not in target and target.endswith(".md")
        if is_page and not (docs_dir / target).is_file():
            continue
        out.append(item)
    return out


def on_config(config: Any) -> Any:
    """MkDocs entry point: keep the nav entries whose page exists."""
    if config.get("nav"):
        config["nav"] = present(config["nav"], Path(config["docs_dir"]))
    return config
