r"""Executed tutorials: every code block of a page in docs/tutorials/ runs, and shows its output.

``python -m panopticon.docgen tutorials [PAGE.md ...]`` re-executes every page (default:
all of ``docs/tutorials/*.md`` and ``docs/getting-started.md``) in a fresh scratch
folder and rewrites the outputs shown in it; ``--check`` only says which pages are stale
(exit 1). ``tests/test_tutorials.py`` re-executes the pages and checks that the shown
outputs equal the fresh ones.

A page's fenced blocks, in order, share one scratch folder (the working directory) and
one Python namespace. Each must be one of:

- `` ```console ``: lines ``$ panopticon ...`` (a trailing ``\\`` continues a command
  on the next line), each followed by its output: what the command printed on stdout,
  then on stderr, lines stripped of trailing blanks. The command runs in this process
  (``panopticon.cli.main.main``), so the engine is imported and compiled once, not once
  per command. A command must exit 0, or the code named by a trailing comment
  (``$ panopticon faceid ... # refused: exit 2``); any other exit code, or a traceback,
  fails the page.
- `` ```python ``: executed; what it prints is shown in the `` ```text title="Output" ``
  block right after it (written, replaced or removed by the tool).
- `` ```toml title="NAME.toml" ``: written to NAME.toml in the scratch folder, so that
  a later command can use it.

Any other block (``bash``, ``text`` on its own, a block without a language) fails a
tutorial page: it would show something nobody ran. (On the getting-started page, whose
install commands cannot run here, such blocks are left as written.) Fences may be
indented (inside an admonition or a collapsible ``???`` block); their contents are read
and written back dedented.

What legitimately varies between two runs of the same page is masked before comparing
(:data:`MASKS`); nothing else is: a run's wall time and peak memory in the summary's
first line (and the rule under it, whose length follows that line), the run's cost line
(seconds and memory) and the runtime row of ``panopticon compare``. Paths do not vary:
commands use paths relative to the scratch folder. Progress bars (tqdm redraws, each a
write that starts with a carriage return) are not part of the output.

Pages run with one Numba thread. A run's bytes do not depend on the thread count, and the
tutorials' small populations (a few blocks of 4,096 citizens) gain nothing from more: on
a shared machine the parallel kernels' per-day thread launches cost more than the work
(measured: the `documented` preset at 2,000 citizens x 1,400 days took 95 s in `behave`
with the default threads on a busy 2-core machine, 0.4 s with one).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
# pages outside docs/tutorials/ whose console and python blocks run too (others stay as written)
EXECUTED = (ROOT / "docs" / "getting-started.md",)
OUTPUT_INFO = 'text title="Output"'
# a command is expected to exit 0, or the code its trailing comment names: `# exit 2`
EXPECTED_EXIT = re.compile(r"#.*\bexit (?P<code>\d+)\b")

FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
TITLE = re.compile(r'title="(?P<title>[^"]+)"')

# (pattern, replacement) applied to every line of both pages before they are compared
MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(.+ citizens x \d+ days, seed \d+, )[\d.]+ s, peak memory [\d,]+ MiB$"),
        r"\1<wall> s, peak memory <memory> MiB",
    ),
    (re.compile(r"^(runtime \(s\)) .*$"), r"\1 <masked>"),
    (re.compile(r"^(cost: ).*$"), r"\1<masked>"),  # `panopticon run`'s cost line (stderr)
)
RULE = re.compile(r"^-+$")


class TutorialError(Exception):
    """A tutorial page cannot be executed: the page, the line and what is wrong."""


@dataclass
class Block:
    """One fenced code block: its fence and body lines (dedented), where it is in the page."""

    indent: str
    ticks: str
    info: str
    body: list[str]
    start: int  # line index of the opening fence
    end: int  # line index of the closing fence

    @property
    def lang(self) -> str:
        """The block's language: the info string's first word."""
        return self.info.split(" ", 1)[0] if self.info else ""

    @property
    def title(self) -> str | None:
        """The block's ``title="..."`` attribute, if any."""
        m = TITLE.search(self.info)
        return m.group("title") if m else None

    def render(self, body: list[str]) -> list[str]:
        """The block's lines with `body` as its contents, at its indentation."""
        inner = [f"{self.indent}{line}" if line else "" for line in body]
        return [f"{self.indent}{self.ticks}{self.info}", *inner, f"{self.indent}{self.ticks}"]


def parse(text: str, where: str = "page") -> list[Block]:
    """Every fenced block of a Markdown page, in order."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks = m.group("indent"), m.group("ticks")
        close = re.compile(rf"^{indent}`{{{len(ticks)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise TutorialError(f"{where}:{i + 1}: code block never closed")
        body = [
            line[len(indent) :] if line.startswith(indent) else line for line in lines[i + 1 : j]
        ]
        blocks.append(Block(indent, ticks, m.group("info").strip(), body, i, j))
        i = j + 1
    return blocks


def mask(text: str) -> str:
    """`text` with what legitimately varies between runs masked (:data:`MASKS`)."""
    out: list[str] = []
    masked_head = False
    for line in text.split("\n"):
        if masked_head and RULE.match(line.strip()):
            out.append(line[: len(line) - len(line.lstrip())] + "<rule>")
            masked_head = False
            continue
        indent = line[: len(line) - len(line.lstrip())]
        body = line[len(indent) :]
        masked_head = False
        for pattern, repl in MASKS:
            new = pattern.sub(repl, body)
            if new != body:
                masked_head = pattern is MASKS[0][0]
                body = new
        out.append(indent + body)
    return "\n".join(out)


class _Captured(io.StringIO):
    """A text stream that keeps what is written, except progress-bar redraws (leading CR)."""

    def write(self, s: str) -> int:
        """Keep `s` unless it is a tqdm redraw."""
        if s.startswith("\r"):
            return len(s)
        return super().write(s)

    def isatty(self) -> bool:
        """Not a terminal (no colours, no live bars)."""
        return False


@contextlib.contextmanager
def _captured() -> Iterator[tuple[_Captured, _Captured]]:
    """Capture stdout and stderr, with a fixed terminal width for help texts."""
    out, err = _Captured(), _Captured()
    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns


def _lines(text: str) -> list[str]:
    """Output lines, trailing blanks stripped, without trailing empty lines."""
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def run_command(command: str, where: str) -> list[str]:
    """Run one ``panopticon ...`` command line in this process; its output lines.

    The command must exit 0, or the code a trailing comment names (``# refused: exit 2``),
    so that a command that fails unexpectedly fails the page instead of showing its error.
    """
    from panopticon.cli.main import main

    m = EXPECTED_EXIT.search(command)
    expected = int(m.group("code")) if m else 0
    argv = shlex.split(command, comments=True)
    if not argv or argv[0] != "panopticon":
        raise TutorialError(f"{where}: only panopticon commands run here, not {command!r}")
    with _captured() as (out, err):
        try:
            rc = main(argv[1:])
        except SystemExit as exc:  # argparse: --help, usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
    if rc != expected:
        raise TutorialError(
            f"{where}: {command!r} exited {rc}, not {expected}:\n{out.getvalue()}{err.getvalue()}"
        )
    return _lines(out.getvalue() + err.getvalue())


def commands(body: list[str], where: str) -> list[str]:
    """The commands of a console block (``$ `` lines, backslash continuations joined)."""
    cmds: list[str] = []
    continued = False
    for k, line in enumerate(body):
        if continued:
            cmds[-1] += "\n" + line
        elif line.startswith("$ "):
            cmds.append(line[2:])
        elif not cmds:
            raise TutorialError(f"{where}+{k + 1}: a console block starts with `$ panopticon`")
        else:
            continue  # a line of shown output
        continued = line.endswith("\\")
    return cmds


def run_console(body: list[str], where: str) -> list[str]:
    """A console block's new body: each command and its fresh output."""
    new: list[str] = []
    for cmd in commands(body, where):
        shown = cmd.split("\n")
        new += [f"$ {shown[0]}", *shown[1:]]
        new += run_command(cmd.replace("\\\n", " "), where)
    return new


def run_python(body: list[str], namespace: dict[str, Any], where: str) -> list[str]:
    """Execute a Python block in the page's namespace; the lines it printed."""
    code = compile("\n".join(body) + "\n", where, "exec")
    with _captured() as (out, err):
        exec(code, namespace)
    return _lines(out.getvalue() + err.getvalue())


def execute(text: str, workdir: Path, where: str = "page", strict: bool = True) -> str:
    """The page `text` with every block executed in `workdir` and its outputs rewritten.

    `strict` (a tutorial): every block must be one that runs. Otherwise (the getting
    started page, whose install commands cannot run here) other blocks are left as
    they are.
    """
    import numba

    lines = text.split("\n")
    blocks = parse(text, where)
    namespace: dict[str, Any] = {"__name__": "__tutorial__"}
    out: list[str] = []
    at = 0  # next line of `lines` to copy
    old, threads = Path.cwd(), numba.get_num_threads()
    os.chdir(workdir)
    numba.set_num_threads(1)  # see the module docstring: same bytes, no thread contention
    try:
        k = 0
        while k < len(blocks):
            b = blocks[k]
            here = f"{where}:{b.start + 1}"
            out += lines[at : b.start]
            at = b.end + 1
            if b.lang == "console":
                out += b.render(run_console(b.body, here))
            elif b.lang == "toml" and b.title:
                Path(b.title).write_text("\n".join(b.body) + "\n", encoding="utf-8")
                out += lines[b.start : b.end + 1]
            elif b.lang == "python":
                printed = run_python(b.body, namespace, here)
                out += lines[b.start : b.end + 1]
                nxt = blocks[k + 1] if k + 1 < len(blocks) else None
                if nxt is not None and nxt.info == OUTPUT_INFO:
                    gap = lines[at : nxt.start]
                    if any(g.strip() for g in gap):
                        raise TutorialError(
                            f"{where}:{nxt.start + 1}: text between code and output"
                        )
                    at = nxt.end + 1
                    k += 1
                if printed:
                    out += Block(b.indent, b.ticks, OUTPUT_INFO, [], 0, 0).render(printed)
            elif b.info == OUTPUT_INFO:
                raise TutorialError(f"{here}: an Output block must follow a python block")
            elif not strict:
                out += lines[b.start : b.end + 1]
            else:
                raise TutorialError(
                    f"{here}: a ```{b.info} block is not executed; use console "
                    '($ panopticon ...), python, or toml with title="FILE.toml"'
                )
            k += 1
        out += lines[at:]
    finally:
        os.chdir(old)
        numba.set_num_threads(threads)
    return "\n".join(out)


def is_tutorial(path: Path) -> bool:
    """Whether `path` is a tutorial page (every block of it must run)."""
    return path.resolve().parent == TUTORIALS.resolve()


def execute_page(path: Path) -> str:
    """A page executed in a fresh scratch folder: its text with fresh outputs."""
    text = path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="panopticon-tutorial-") as tmp:
        return execute(text, Path(tmp), str(path.name), strict=is_tutorial(path))


def pages() -> list[Path]:
    """Every executed page: the tutorials, then the getting-started page."""
    return [*sorted(TUTORIALS.glob("*.md")), *[p for p in EXECUTED if p.is_file()]]


def main(argv: list[str]) -> int:
    """`python -m panopticon.docgen tutorials [--check] [PAGE.md ...]`: rewrite or check pages."""
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or pages()
    stale = []
    for path in paths:
        if not path.is_file():
            print(f"error: page: {path}: give a Markdown file of docs/tutorials/", file=sys.stderr)
            return 2
        try:
            fresh = execute_page(path)
        except TutorialError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        old = path.read_text(encoding="utf-8")
        if mask(old) != mask(fresh):
            stale.append(path)
            if not check:
                path.write_text(fresh, encoding="utf-8")
        print(f"{path}: {'stale' if mask(old) != mask(fresh) else 'current'}", file=sys.stderr)
    if check and stale:
        print("run: python -m panopticon.docgen tutorials", file=sys.stderr)
        return 1
    return 0
