"""`panopticon --help` and each command start without importing the other commands.

`cli/main.py` lists every command by name and help without importing its module; these
tests check that list against what the modules register, and what a start-up imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from panopticon.cli.main import COMMANDS, build_parser
from panopticon.core import arrow


def _listed(parser: object) -> list[tuple[str, str]]:
    """(name, help) of every command a parser lists, in order."""
    sub = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
    return [(a.dest, a.help) for a in sub._choices_actions]


def test_listed_commands_match_what_the_modules_register() -> None:
    table = [cmd for _, commands in COMMANDS for cmd in commands]
    assert _listed(build_parser()) == table
    assert _listed(build_parser(["--help"])) == table
    assert _listed(build_parser(["fork", "--help"])) == table


def _imported_after(argv: list[str]) -> set[str]:
    """Modules of `panopticon.cli` and heavy libraries imported by `main(argv)`."""
    code = (
        "import sys\n"
        "from panopticon.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('numpy', 'numba', 'polars', 'pyarrow', 'scipy', 'pydantic')\n"
        "mods = [m for m in sys.modules if m.startswith('panopticon.cli.') or m in heavy]\n"
        "print('MODULES', *mods)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines()[-1].split()[1:])


def test_help_imports_no_command_module() -> None:
    assert _imported_after(["--help"]) == {"panopticon.cli.main"}


def test_a_command_imports_its_own_module_only() -> None:
    got = _imported_after(["run", "--help"])
    assert "panopticon.cli.run" in got
    assert not got & {"panopticon.cli.faceid", "panopticon.cli.dossier", "panopticon.cli.sweep"}
    assert not got & {"numba", "polars", "scipy"}


def test_the_engine_and_its_stages_import_no_solver() -> None:
    """scipy.optimize (0.13 s) is imported only by the face-id code that solves for a root."""
    code = (
        "import sys\n"
        "import panopticon.core.engine, panopticon.stages.builtin\n"
        "print('OPTIMIZE', 'scipy.optimize' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "OPTIMIZE False"


def test_a_run_imports_no_pandas(tmp_path: Path) -> None:
    """A whole run writes its tables without pandas (importing it costs 0.3-0.7 s)."""
    out = tmp_path / "run"
    argv = ["run", "seed-article", "--population", "5000", "--days", "3", "--out", str(out)]
    code = (
        "import sys\n"
        "from panopticon.cli.main import main\n"
        f"rc = main({[*argv, '--quiet']!r})\n"
        "print('PANDAS', rc, 'pandas' in sys.modules)"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.splitlines()[-1] == "PANDAS 0 False"
    assert (out / "people.parquet").exists()


@pytest.mark.parametrize(
    "values, kind",
    [
        (np.array([1.5, np.nan, -0.0, np.inf]), None),
        (np.arange(7, dtype=np.int32), pa.int64()),
        (np.array([True, False, True] * 7), None),
        (np.array([3, 0, 255], dtype=np.uint8), None),
        (np.empty(0), pa.int32()),
        (np.datetime64("2014-01-01") + np.arange(40), pa.date32()),
        (["flight", "trén", ""], pa.string()),
        (np.array(["a", "b"], dtype=object), pa.string()),
    ],
)
def test_arrow_arrays_equal_pyarrows(values: Any, kind: pa.DataType | None) -> None:
    """`core.arrow.array` gives `pa.array`'s type, validity and value bytes."""
    got, want = arrow.array(values, kind), pa.array(values, type=kind)
    assert got.type == want.type and got.null_count == want.null_count == 0
    if pa.types.is_floating(want.type):  # NaN != NaN: compare the bytes
        assert got.buffers()[1].to_pybytes() == want.buffers()[1].to_pybytes()
    else:
        assert got.equals(want)


def test_arrow_table_casts_to_the_schema() -> None:
    """`core.arrow.table` with a schema casts as `pa.table` does; a 2-D array is refused."""
    schema = pa.schema([("day", pa.int32()), ("n", pa.int64())])
    cols = {"day": np.arange(3), "n": np.array([1, 2, 3], dtype=np.uint16)}
    assert arrow.table(cols, schema).equals(pa.table(cols, schema=schema))
    with pytest.raises(ValueError, match="1-D"):
        arrow.array(np.zeros((2, 2)))


def _modules_after_run(argv: list[str], prefixes: tuple[str, ...]) -> set[str]:
    """Modules starting with one of `prefixes` loaded by a whole run (fresh interpreter)."""
    code = (
        "import sys\n"
        "from panopticon.cli.main import main\n"
        f"rc = main({[*argv, '--quiet']!r})\n"
        f"print('MODULES', rc, *[m for m in sys.modules if m.startswith({prefixes!r})])"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    words = got.stdout.splitlines()[-1].split()
    assert words[:2] == ["MODULES", "0"]
    return set(words[2:])


GRAPH_MODULES = {
    f"panopticon.stages.society.{m}"
    for m in ("build", "graph", "friends", "avoidance", "households", "groups", "stats", "draws")
}


def test_a_run_without_a_graph_loads_no_graph_kernels(tmp_path: Path) -> None:
    """The social graph's modules (0.1 s of imports) load only for a scenario with a graph."""
    prefixes = ("panopticon.stages.society.",)
    small = ["--population", "5000", "--days", "3", "--out"]
    minimal = _modules_after_run(["run", "minimal", *small, str(tmp_path / "a")], prefixes)
    assert "panopticon.stages.society.params" in minimal  # the schema's part
    assert not minimal & GRAPH_MODULES
    seed = _modules_after_run(["run", "seed-article", *small, str(tmp_path / "b")], prefixes)
    assert GRAPH_MODULES <= seed


def test_only_the_program_freezes_its_objects() -> None:
    """`main()` as the program freezes the collector's objects; `main(argv)` from Python not.

    Freezing skips the interpreter's collections over every object at exit (0.3-0.4 s);
    a Python caller (a notebook, the tests) keeps collecting its own garbage. The
    program's command runs with the collector on.
    """
    code = (
        "import contextlib, gc, io, sys\n"
        "from panopticon.cli import presets\n"
        "from panopticon.cli.main import main\n"
        "seen = []\n"
        "real = presets.run\n"
        "def spy(args):\n"
        "    seen.append(gc.isenabled())\n"
        "    return real(args)\n"
        "presets.run = spy\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['presets'])\n"
        "    called = gc.get_freeze_count()\n"
        "    sys.argv = ['panopticon', 'presets']\n"
        "    rc2 = main()\n"
        "print('FROZEN', rc, called, rc2, gc.get_freeze_count() > 0, *seen, gc.isenabled())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "FROZEN 0 0 0 True True True True"


def test_the_program_runs_with_the_collector_on(tmp_path: Path) -> None:
    """`panopticon run` turns the collector back on (start-up frozen) before the day loop."""
    out = tmp_path / "run"
    argv = ["panopticon", "run", "minimal", "--population", "2000", "--days", "3", "-q"]
    code = (
        "import gc, sys\n"
        "import panopticon.core.engine as engine\n"
        "from panopticon.cli.main import main\n"
        "seen = []\n"
        "real = engine.drive\n"
        "def spy(*a, **k):\n"
        "    seen.append((gc.isenabled(), gc.get_freeze_count() > 0))\n"
        "    return real(*a, **k)\n"
        "engine.drive = spy\n"
        f"sys.argv = {[*argv, '--out', str(out)]!r}\n"
        "print('GC', main(), *seen)"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.splitlines()[-1] == "GC 0 (True, True)"


def test_the_program_runs_and_exits_cleanly(tmp_path: Path) -> None:
    """`python -m panopticon.cli run` (frozen objects at exit) leaves a complete run folder."""
    out = tmp_path / "run"
    argv = ["run", "minimal", "--population", "3000", "--days", "5", "-q", "--out", str(out)]
    got = subprocess.run(
        [sys.executable, "-m", "panopticon.cli", *argv], capture_output=True, text=True
    )
    assert got.returncode == 0, got.stderr
    assert got.stderr == ""
    import panopticon as pn

    assert pn.open_run(out).manifest["status"] == "complete"
