"""The documentation site: executed tutorials show what their commands print, the site builds.

Every page of docs/tutorials/ (and docs/getting-started.md) is re-executed in a scratch
folder and must equal what it shows, after masking only wall times and peak memory
(`docgen_tutorials.MASKS`); `mkdocs build --strict` must pass now and once the pages
other work adds to the nav exist.
"""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from panopticon import docgen_site
from panopticon.docgen_tutorials import (
    OUTPUT_INFO,
    TUTORIALS,
    TutorialError,
    execute,
    execute_page,
    mask,
    pages,
    parse,
)

ROOT = Path(__file__).resolve().parents[1]
# a resource a page would load from elsewhere: a script, image, frame or stylesheet
FETCHED = re.compile(r"<(?:script|img|iframe|link)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*")
HINT = "run: python -m panopticon.docgen tutorials"


def _diff(old: str, new: str) -> str:
    """The first lines of a unified diff, for a failure message."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "shown", "fresh", lineterm="")
    return "\n".join(list(lines)[:40])


# -- the tool ----------------------------------------------------------------------------


def test_mask_hides_wall_time_and_memory_only() -> None:
    """Two summaries differing in wall time and memory mask equal; a count does not."""
    a = "minimal: 1,000 citizens x 9 days, seed 0, 1.2 s, peak memory 300 MiB\n---\nrecorded 5"
    b = "minimal: 1,000 citizens x 9 days, seed 0, 12.3 s, peak memory 1,301 MiB\n----\nrecorded 5"
    assert mask(a) == mask(b)
    assert mask(a) != mask(b.replace("recorded 5", "recorded 6"))
    assert mask(a).splitlines()[1] == "<rule>"
    # a rule that does not follow a run's head line is kept as it is
    assert mask("metric  a  b\n-----\nx") == "metric  a  b\n-----\nx"
    runtime = "runtime (s)   6.79   2.27   -4.52   -66.6%"
    assert mask(runtime) == mask("runtime (s)   0.5   0.4   -0.1   -20.0%")
    assert mask("records made   6.79") == "records made   6.79"


def test_execute_runs_every_kind_of_block(tmp_path: Path) -> None:
    """Console outputs are rewritten, Python output blocks made, TOML files written."""
    page = "\n".join(
        [
            "# t",
            '```toml title="mine.toml"',
            'extends = "minimal"',
            "```",
            "```console",
            "$ panopticon validate mine.toml",
            "stale output",
            "$ panopticon faceid --gallery 1e3 \\",
            "    --threshold 99",
            "$ panopticon run minimal --set run.days=0  # refused: exit 2",
            "```",
            "    ```python",
            "    print(1 + 1)",
            "    ```",
            "text after",
        ]
    )
    out = execute(page, tmp_path)
    blocks = parse(out)
    assert [b.lang for b in blocks] == ["toml", "console", "python", "text"]
    console = blocks[1].body
    assert console[0] == "$ panopticon validate mine.toml"
    assert console[1].startswith("ok: mine is valid")
    assert "stale output" not in out
    assert console[2:4] == ["$ panopticon faceid --gallery 1e3 \\", "    --threshold 99"]
    assert any("gallery G" in line for line in console)
    assert console[-1].startswith("error: run.days: 0")  # exit 2, as the comment says
    assert blocks[3].info == OUTPUT_INFO and blocks[3].body == ["2"]
    assert blocks[3].indent == "    "  # an indented (collapsible) block keeps its indent
    assert (tmp_path / "mine.toml").read_text() == 'extends = "minimal"\n'
    assert out.endswith("text after")
    assert execute(out, tmp_path) == out  # a current page is left as it is


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("```bash\npanopticon presets\n```", "not executed"),
        ("```\nx\n```", "not executed"),
        ("```console\n$ ls runs\n```", "only panopticon commands"),
        ("```console\noutput first\n```", r"starts with `\$ panopticon`"),
        (f"```{OUTPUT_INFO}\n2\n```", "must follow a python block"),
        ("```console\n$ panopticon presets\n", "never closed"),
        ("```console\n$ panopticon run minimal --set run.days=0\n```", "exited 2, not 0"),
        ("```console\n$ panopticon presets  # exit 2\n```", "exited 0, not 2"),
    ],
)
def test_a_block_that_cannot_run_fails_the_page(tmp_path: Path, block: str, message: str) -> None:
    """Nothing is shown that nobody ran: unknown blocks and commands fail a tutorial."""
    with pytest.raises(TutorialError, match=message):
        execute(f"# t\n{block}", tmp_path)


def test_other_pages_keep_blocks_that_do_not_run(tmp_path: Path) -> None:
    """Outside the tutorials (install commands) a bash block is left as written."""
    page = "```bash\npip install .\n```"
    assert execute(page, tmp_path, strict=False) == page


def test_a_python_error_fails_the_page(tmp_path: Path) -> None:
    """An exception in a Python block is not turned into shown output."""
    with pytest.raises(ZeroDivisionError):
        execute("```python\n1 / 0\n```", tmp_path)


# -- the pages ---------------------------------------------------------------------------


def test_every_tutorial_block_runs() -> None:
    """Each block of a tutorial is a console, python, output or named TOML block."""
    found = sorted(TUTORIALS.glob("*.md"))
    assert {"one-face.md", "article-vs-documented.md"} <= {p.name for p in found}
    for path in found:
        for b in parse(path.read_text(), path.name):
            ok = b.lang in ("console", "python") or b.info == OUTPUT_INFO
            ok = ok or (b.lang == "toml" and b.title is not None)
            assert ok, f"{path.name}:{b.start + 1}: ```{b.info} is not executed"


@pytest.mark.parametrize("path", pages(), ids=lambda p: p.name)
def test_shown_outputs_are_those_of_a_fresh_run(path: Path) -> None:
    """Re-executing the page gives the outputs it shows (wall time and memory masked)."""
    shown = path.read_text(encoding="utf-8")
    fresh = execute_page(path)
    assert mask(shown) == mask(fresh), f"{path.name} is stale; {HINT}\n{_diff(shown, fresh)}"


# -- the site ----------------------------------------------------------------------------


def _nav_pages(nav: list) -> list[str]:
    """Every Markdown page named in a nav."""
    out: list[str] = []
    for item in nav:
        target = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(target, list):
            out += _nav_pages(target)
        elif isinstance(target, str) and target.endswith(".md"):
            out.append(target)
    return out


def _html(site: Path, page: str) -> Path:
    """Where MkDocs writes a page (`a/b.md` -> `a/b/index.html`, `a/index.md` -> `a/index.html`)."""
    stem = Path(page).with_suffix("")
    return site / (stem.parent if stem.name == "index" else stem) / "index.html"


def _build(docs_dir: Path, site_dir: Path, nav: list | None = None) -> None:
    """`mkdocs build --strict` of the repository's mkdocs.yml with another docs folder (nav)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    extra = {"nav": nav} if nav is not None else {}
    config = load_config(
        config_file=str(ROOT / "mkdocs.yml"),
        docs_dir=str(docs_dir),
        site_dir=str(site_dir),
        strict=True,
        **extra,
    )
    build(config)


def test_optional_nav_keeps_only_pages_that_exist(tmp_path: Path) -> None:
    """The hook drops missing pages and sections left empty, and keeps the rest."""
    (tmp_path / "a.md").write_text("# a")
    nav = [
        {"Home": "a.md"},
        {"Later": [{"B": "b.md"}, {"C": "c.md"}]},
        {"Mixed": [{"A again": "a.md"}, {"B": "b.md"}]},
        {"Out": "https://example.org/x.md"},
    ]
    assert docgen_site.present(nav, tmp_path) == [
        {"Home": "a.md"},
        {"Mixed": [{"A again": "a.md"}]},
        {"Out": "https://example.org/x.md"},
    ]


def test_site_builds_strict_now_and_with_the_pages_to_come(tmp_path: Path) -> None:
    """Strict build of docs/ as it is (a nav page not written yet is left out, not an error);
    then with every nav page that is missing now added."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    wanted = _nav_pages(nav)
    missing = [p for p in wanted if not (ROOT / "docs" / p).is_file()]
    unwritten = "tutorials/not-written-yet.md"
    _build(ROOT / "docs", tmp_path / "now", [*nav, {"Later": [{"Not yet": unwritten}]}])
    for page in [*wanted, unwritten]:
        present = page not in missing and page != unwritten
        assert _html(tmp_path / "now", page).is_file() == present, page
    text = (tmp_path / "now" / "tutorials" / "one-face" / "index.html").read_text()
    assert "gallery G" in text  # executed output, rendered
    for html in (tmp_path / "now").rglob("*.html"):  # links may leave; nothing is fetched
        fetched = FETCHED.findall(html.read_text(encoding="utf-8"))
        assert not fetched, f"{html}: {fetched[:3]}"
    if not missing:  # every page is written: the second build would be the first
        return
    later = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", later)
    for page in missing:
        (later / page).parent.mkdir(parents=True, exist_ok=True)
        (later / page).write_text(f"# {Path(page).stem}\n\nWritten later.\n")
    _build(later, tmp_path / "later")
    for page in missing:
        assert _html(tmp_path / "later", page).is_file(), page
