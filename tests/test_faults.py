"""Trying to break run folders: concurrent writers, read-only and full disks, tampering.

Also: every manifest is strict JSON, and the README's commands work in order in a fresh
folder (at small sizes).
"""

from __future__ import annotations

import contextlib
import errno
import json
import multiprocessing
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.io.runs import partial_path

# documented's dated court rates held flat: schedule dates must lie within a shortened run
SHORT = ["sanctions.court.perform_share=0.5", "sanctions.court.listing_per_year=1.0"]

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--population", "2000", "--days", "5", "-q"]


def leftovers(folder: Path) -> list[str]:
    """Hidden or temporary names a run may have left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name)


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    """The captured stderr: one line, no traceback, holding every needle."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)
    return err


# -- concurrent writers ---------------------------------------------------------------------


def _writer(who: int, barrier: Any, jobs: list[tuple[str, str, bool]], results: Any) -> None:
    """A process that, for each round, waits on the barrier then writes the round's folder."""
    from panopticon.cli import main as cli_main

    sc = pn.load("minimal", population=30_000, days=60, seed=who)
    for how, out, overwrite in jobs:
        barrier.wait()
        if how == "api":
            try:
                pn.run(sc, out=out, overwrite=overwrite)
                outcome = "won"
            except pn.RunError as exc:
                outcome = f"refused: {exc}"
            except BaseException as exc:
                outcome = f"crashed: {exc!r}"
        else:
            args = ["run", "minimal", "--population", "30000", "--days", "60", "-q"]
            args += ["--seed", str(who), "--out", out] + (["--overwrite"] if overwrite else [])
            try:
                rc = cli_main(args)
                outcome = "won" if rc == 0 else f"exit {rc}"
            except BaseException as exc:
                outcome = f"crashed: {exc!r}"
        results.put((out, who, outcome))


def test_two_writers_one_wins(tmp_path: Path) -> None:
    """Two processes released by a barrier write one folder: one wins, one is refused."""
    rounds = [
        (how, str(tmp_path / f"r{k}"), overwrite)
        for k, (how, overwrite) in enumerate(
            [("api", False), ("api", True), ("cli", False), ("cli", True), ("api", True)]
        )
    ]
    # the overwrite rounds start from a complete run already in the folder
    for _, out, overwrite in rounds:
        if overwrite:
            pn.run(pn.load("minimal", population=500, days=2, seed=7), out=out)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(w, barrier, rounds, results)) for w in (1, 2)]
    for p in procs:
        p.start()
    got = [results.get(timeout=240) for _ in range(2 * len(rounds))]
    for p in procs:
        p.join(timeout=60)
    for how, out, overwrite in rounds:
        outcomes = {who: o for o2, who, o in got if o2 == out}
        winners = [who for who, o in outcomes.items() if o == "won"]
        assert len(winners) == 1, (how, overwrite, outcomes)
        loser = next(o for who, o in outcomes.items() if who != winners[0])
        if how == "api":
            assert loser.startswith("refused: error: --out"), loser
        else:
            assert loser == "exit 2", loser
        run = pn.open_run(out)  # complete, and its tables are those its manifest lists
        assert run.manifest["seed"] == winners[0] and run.people.height == 30_000
        assert leftovers(Path(out).parent) == []


def test_cli_loser_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """While a folder is claimed, a second writer exits 2 with one line naming the holder."""
    from panopticon.io.fs import FolderLock

    out = tmp_path / "busy"
    lock = FolderLock(out)
    try:
        for extra in ([], ["--overwrite"]):
            assert main(["run", "minimal", *SMALL, "--out", str(out), *extra]) == 2
            one_line_error(capsys, "another run", str(os.getpid()))
    finally:
        lock.release()
    assert main(["run", "minimal", *SMALL, "--out", str(out)]) == 0
    assert leftovers(tmp_path) == []


# -- read-only and full destinations --------------------------------------------------------


def _mount(folder: Path, options: str) -> bool:
    """Mount a tmpfs at `folder` (root only); False where that is not possible."""
    if os.geteuid() != 0:
        return False
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    return proc.returncode == 0


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[bool]:
    """A small tmpfs at `folder` for the block (yields False where none can be mounted)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = _mount(folder, options)
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def test_read_only_destination(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty read-only folder, or a folder inside one, as --out; a report written there."""
    ro = tmp_path / "ro"
    run = tmp_path / "run"
    assert main(["run", "minimal", *SMALL, "--out", str(run)]) == 0
    with tmpfs(ro, "ro,size=1m") as mounted:
        if not mounted:
            if os.geteuid() == 0:
                pytest.skip("root without mount: permissions do not bind root")
            ro.chmod(0o555)
        for out in (ro, ro / "sub"):
            for extra in ([], ["--overwrite"]):
                assert main(["run", "minimal", *SMALL, "--out", str(out), *extra]) == 2
                one_line_error(capsys, str(ro), "cannot write")
        assert main(["report", str(run), "-o", str(ro / "r.html")]) == 2
        one_line_error(capsys, "cannot write", str(ro))
        assert list(ro.iterdir()) == []
        if not mounted:
            ro.chmod(0o755)
    assert leftovers(tmp_path) == []


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` until about `leave` bytes are free."""
    import shutil

    free = shutil.disk_usage(folder).free
    with open(folder / "ballast", "wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(free - leave, 0))


def test_full_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A small tmpfs filled during a run, before a run, and before a report."""
    disk = tmp_path / "disk"
    with tmpfs(disk, "size=1m") as mounted:
        if not mounted:
            pytest.skip("needs root and mount for a tmpfs; see test_full_disk_simulated")
        out = disk / "run"
        # the disk fills during the run: the record log outgrows it
        big = ["--population", "100000", "--days", "200", "-q", "--out", str(out)]
        assert main(["run", "minimal", *big]) == 2
        one_line_error(capsys, "disk full", str(disk))
        assert sorted(p.name for p in disk.iterdir()) == []
        # a run that fits, then its report on a full disk
        assert main(["run", "minimal", *SMALL, "--out", str(out)]) == 0
        _fill(disk, 16 * 1024)
        assert main(["run", "minimal", *SMALL, "--out", str(out), "--overwrite", "--report"]) == 2
        one_line_error(capsys, "disk full", str(disk))
        assert main(["report", str(out)]) == 2
        one_line_error(capsys, "disk full", "report.html", "needed about")
        assert sorted(p.name for p in disk.iterdir()) == ["ballast", "run"]
        assert not (out / "report.html").exists() and not list(out.glob("*.tmp"))
        pn.open_run(out)  # the old run is intact
        # room again: nothing left behind blocks the rerun
        (disk / "ballast").unlink()
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)  # a report
        assert main(["run", "minimal", *SMALL, "--out", str(out), "--overwrite", "--report"]) == 0
        assert (out / "report.html").exists()
        assert sorted(p.name for p in disk.iterdir()) == ["run"]


def test_full_disk_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC raised by the table writer (any machine): exit 2, one line, nothing left."""
    import pyarrow.parquet as pq

    real = pq.write_table

    def full(table: Any, where: Any, *a: Any, **k: Any) -> None:
        if "people" in str(where):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(table, where, *a, **k)

    class FullWriter(pq.ParquetWriter):
        """The row-chunk writer of the people table, on a full disk."""

        def __init__(self, where: Any, *a: Any, **k: Any) -> None:
            if "people" in str(where):
                raise OSError(errno.ENOSPC, "No space left on device")
            super().__init__(where, *a, **k)

    monkeypatch.setattr(pq, "write_table", full)
    monkeypatch.setattr(pq, "ParquetWriter", FullWriter)
    out = tmp_path / "run"
    assert main(["run", "minimal", *SMALL, "--out", str(out)]) == 2
    # written in row chunks, the people table's size is not known before it fails
    one_line_error(capsys, "disk full", "people.parquet", "GiB free")
    assert list(tmp_path.iterdir()) == []


# -- a table changed after the run ------------------------------------------------------------


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run (and a second one beside it, `<run>b`, to compare with)."""
    out = tmp_path_factory.mktemp("done") / "run"
    for folder in (out, out.with_name("runb")):
        args = ["run", "minimal", "--population", "3000", "--days", "20", "-q"]
        assert main([*args, "--out", str(folder)]) == 0
    return out


def _tamper(src: Path, dst: Path, how: str) -> None:
    import shutil

    shutil.copytree(src, dst)
    people = dst / "people.parquet"
    data = bytearray(people.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
        people.write_bytes(bytes(data))
    elif how == "truncate":
        people.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "remove":
        people.unlink()
    else:
        shutil.copyfile(dst / "timeseries.parquet", dst / "extra.parquet")


@pytest.mark.parametrize("how", ["flip", "truncate", "remove", "extra"])
def test_changed_table_is_refused(
    done: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    bad = tmp_path / "bad"
    _tamper(done, bad, how)
    with pytest.raises(pn.RunError, match="cannot be trusted"):
        pn.open_run(bad)
    for args in (
        ["report", str(bad), "-o", str(tmp_path / "r.html")],
        ["compare", str(bad), str(done) + "b"],
        ["dossier", str(bad), "--person", "1"],
    ):
        assert main(args) == 2, args
        one_line_error(capsys, "cannot be trusted")
    assert not (tmp_path / "r.html").exists()


# -- strict JSON ------------------------------------------------------------------------------


def _strict(text: str) -> Any:
    def no(value: str) -> Any:
        raise ValueError(f"not JSON: {value}")

    return json.loads(text, parse_constant=no)


@pytest.mark.parametrize("preset", ["minimal", "city-pilot", "documented", "seed-article"])
def test_manifests_are_strict_json(preset: str, tmp_path: Path) -> None:
    sets = SHORT if preset == "documented" else []
    r = pn.run(pn.load(preset, sets, population=2000, days=8), out=tmp_path / "r")
    manifest = _strict((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and set(manifest["files"]) >= {"people.parquet"}
    assert all(v is None or isinstance(v, int | float) for v in manifest["totals"].values())
    assert set(r.totals) == set(manifest["totals"])


# -- the README, in order ---------------------------------------------------------------------


def readme_steps() -> list[tuple[str, str]]:
    """The README's code blocks in order: (language, text)."""
    text = (ROOT / "README.md").read_text("utf-8")
    return re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S)


SKIP = ("python3 -m pip", "python3 -m pytest", "apt-get", "mkdocs", "panopticon explore")
README_SMALL = {  # what each ensemble command gets on top of its README options, to stay small
    "run": ["--population", "1000", "--days", "5", "-q"],
    "sweep": ["--population", "1000", "--days", "5", "-q", "--jobs", "1", "--replicates", "2"],
    "calibrate": ["--population", "1000", "--trials", "2", "--jobs", "1", "-q", "--no-report"],
    "sensitivity": ["--population", "1000", "--days", "5", "--samples", "4", "--jobs", "1", "-q"],
}


def test_readme_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every README command, in order, in a fresh folder, at 1,000 citizens x 5 days."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "targets", tmp_path / "targets")  # as run from the repository
    real_load = pn.load
    monkeypatch.setattr(
        pn, "load", lambda *a, **k: real_load(*a, **{**k, "population": 1000, "days": 30})
    )
    ran = 0
    for lang, block in readme_steps():
        if lang == "toml":
            name = block.splitlines()[0].removeprefix("#").strip()
            (tmp_path / name).write_text(block, "utf-8")
        elif lang == "python":
            exec(compile(block, "README.md", "exec"), {})
            ran += 1
        elif lang == "bash":
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split("&&")[-1].split("#")[0].strip()
                if not command or command.startswith(SKIP):
                    continue
                args = shlex.split(command)
                assert args[0] == "panopticon", command
                args += README_SMALL.get(args[1], [])
                rc = main(args[1:])
                assert rc == 0, (command, capsys.readouterr().err)
                ran += 1
    assert ran > 20
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert {"minimal-0", "minimal-0-2", "minimal-0-3", "my_city-0", "small"} <= set(runs)
    assert not partial_path(tmp_path / "runs" / "minimal-0").exists()
