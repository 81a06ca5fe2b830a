"""`panopticon --help` and each command start without importing the other commands.

`cli/main.py` lists every command by name and help without importing its module; these
tests check that list against what the modules register, and what a start-up imports.
"""

from __future__ import annotations

import subprocess
import sys

from panopticon.cli.main import COMMANDS, build_parser


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
