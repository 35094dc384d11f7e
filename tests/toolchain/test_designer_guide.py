"""The README's worked examples ("Worked example: adding an operation", "… a stored, constrained field"),
replayed in order on a copy of the repository (an example this checkout has followed already is not).

The guide marks its steps with HTML comments that GitHub does not render:
- `<!-- guide: edit PATH: insert before the line "LINE" -->` or `<!-- guide: edit PATH: new file -->`, then a
  fenced block: the edit; or `<!-- guide: edit PATH: change -->`, then a fenced diff: lines starting with `-`
  are replaced by those starting with `+`, around the lines starting with a space (which, with the `-`
  lines, occur exactly once in the file);
- `<!-- guide: run -->` (every command succeeds) or `<!-- guide: run, fails -->` (all but the last succeed,
  the last fails), then a fenced block of commands, run with bash in the copy;
- `<!-- guide: output -->`, then a fenced block: every line of it appears in the output of the last command
  run (`…` stands for anything).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskapi.testing.liveserver import RECORD_DIR_VARIABLE
from tests.conftest import ROOT

STEP = re.compile(r"<!-- guide: (?P<what>.+?) -->\n+```[a-z]*\n(?P<block>.*?)^```", re.MULTILINE | re.DOTALL)
INSERT = re.compile(r'edit (?P<path>\S+): insert before the line "(?P<line>.*)"')
NEW_FILE = re.compile(r"edit (?P<path>\S+): new file")
CHANGE = re.compile(r"edit (?P<path>\S+): change")


@dataclass(frozen=True)
class Step:
    what: str
    block: str


def guide_steps(text: str | None = None) -> list[Step]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8") if text is None else text
    return [Step(m["what"], m["block"]) for m in STEP.finditer(readme)]


def worked_examples() -> list[list[Step]]:
    """The steps of each worked example (a `### Worked example` section of the README), in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = re.split(r"^### (?=Worked example)", readme, flags=re.MULTILINE)[1:]
    return [guide_steps(section.split("\n## ", 1)[0].split("\n### ", 1)[0]) for section in sections]


def followed_here(example: list[Step], root: Path = ROOT) -> bool:
    """Whether this checkout already holds the example's result: every file it creates is here, as the
    guide writes it (a designer followed it). The example is then not replayed: its result is what the
    rest of the suite tests, and replaying it on top would find its files there already."""
    created = [(NEW_FILE.fullmatch(step.what), step.block) for step in example if step.what.startswith("edit ")]
    new_files = [(root / match["path"], block) for match, block in created if match is not None]
    return bool(new_files) and all(
        path.is_file() and path.read_text(encoding="utf-8") == block for path, block in new_files
    )


def copy_of_the_repository(target: Path) -> Path:
    """The working tree's files (tracked and new, not ignored) in a fresh git repository whose one commit is
    them, sharing this checkout's .venv and node_modules, with a copy of its mypy cache."""
    target.mkdir()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for shared in (".venv", "node_modules"):
        (target / shared).symlink_to(ROOT / shared)
    # The shared installs are current: make must not rebuild them from the copy (the editable install
    # would then point here). Their inputs are made older than any stamp.
    for name in (
        "requirements.lock", "requirements-dev.lock", "requirements-pip.lock", "pyproject.toml", "package.json",
        "package-lock.json",
    ):  # fmt: skip
        os.utime(target / name, (0, 0))
    git = ["git", "-c", "user.name=guide", "-c", "user.email=guide@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=target, check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "before the guide"], cwd=target, check=True)
    # With this checkout's mypy cache, `make typecheck` and `make check` re-check what the guide's edits
    # change instead of every module from nothing. A copy: the copy's files differ, and mypy would write
    # their results into a cache it shared. mypy compares each file's hash with its cache entry, so an
    # entry for a file that differs (or a stale or missing cache) costs time, never a finding.
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", target / ".mypy_cache")
    return target


def edit(repo: Path, step: Step) -> None:
    if (new := NEW_FILE.fullmatch(step.what)) is not None:
        path = repo / new["path"]
        assert not path.exists(), f"{new['path']} exists already"
        path.write_text(step.block, encoding="utf-8")
        return
    if (change := CHANGE.fullmatch(step.what)) is not None:
        path = repo / change["path"]
        lines = step.block.splitlines(keepends=True)
        assert all(line[:1] in (" ", "-", "+") or line == "\n" for line in lines), f"not a diff: {step.block}"
        before = "".join(line[1:] if line != "\n" else line for line in lines if line[:1] != "+")
        after = "".join(line[1:] if line != "\n" else line for line in lines if line[:1] != "-")
        text = path.read_text(encoding="utf-8")
        assert text.count(before) == 1, f"{change['path']}: the diff's old lines are not there exactly once"
        path.write_text(text.replace(before, after), encoding="utf-8")
        return
    insert = INSERT.fullmatch(step.what)
    assert insert is not None, f"unknown edit: {step.what}"
    path = repo / insert["path"]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    anchor = insert["line"] + "\n"
    assert lines.count(anchor) == 1, f"{insert['path']}: the line {insert['line']!r} is not there exactly once"
    index = lines.index(anchor)
    path.write_text("".join(lines[:index]) + step.block + "".join(lines[index:]), encoding="utf-8")


def run(repo: Path, step: Step) -> str:
    """Run the block's commands; return the output of the last one."""
    commands = [line for line in step.block.splitlines() if line.strip() and not line.startswith("#")]
    fails = step.what == "run, fails"
    assert step.what in ("run", "run, fails"), f"unknown step: {step.what}"
    # Run as a developer would, not as part of an outer make (whose flags and level would leak in).
    # Nor as part of this run's contract recording: the copy serves a spec of its own.
    # Nor measured by this run's coverage (patch = subprocess): the copy's code is not this checkout's, so
    # the tracer would record nothing and only slow every command down.
    left_out = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", RECORD_DIR_VARIABLE, "TASKAPI_CONTRACT_RECORD_DIR")
    env = {
        **{k: v for k, v in os.environ.items() if k not in left_out and not k.startswith("COVERAGE_PROCESS_")},
        "PYTHONPATH": f"{repo / 'src'}{os.pathsep}{repo}",  # the copy's taskapi, not this checkout's
        "PATH": f"{repo / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    output = ""
    for number, command in enumerate(commands, start=1):
        result = subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, check=False)
        output = result.stdout + result.stderr
        expected_to_fail = fails and number == len(commands)
        assert (result.returncode != 0) == expected_to_fail, (
            f"`{command}` exited {result.returncode} (expected {'failure' if expected_to_fail else 'success'}):\n"
            f"{output[-4000:]}"
        )
    return output


def check_output(step: Step, output: str) -> None:
    for expected in step.block.splitlines():
        pattern = ".*".join(re.escape(part) for part in expected.split("…"))
        assert re.search(pattern, output), f"not in the output: {expected!r}\n--- output ---\n{output[-4000:]}"


def test_a_worked_example_followed_in_a_checkout_is_not_replayed_on_top_of_itself(tmp_path: Path) -> None:
    for number, example in enumerate(worked_examples()):
        root = tmp_path / str(number)
        assert not followed_here(example, root)
        created = [(NEW_FILE.fullmatch(step.what), step.block) for step in example]
        files = {match["path"]: block for match, block in created if match is not None}
        assert files, "a worked example that creates no file cannot be told followed"
        for name, block in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(block, encoding="utf-8")
        assert followed_here(example, root)
        name = next(iter(files))
        (root / name).write_text(files[name] + "# changed since\n", encoding="utf-8")
        assert not followed_here(example, root)


def test_the_guide_has_every_kind_of_step() -> None:
    kinds = [re.split(r"[ ,]", step.what)[0] for step in guide_steps()]
    assert set(kinds) == {"edit", "run", "output"}, kinds
    assert kinds[0] == "edit"
    assert kinds[-1] == "run"


@pytest.mark.slow
def test_the_worked_example_works_on_a_copy_of_the_repository(tmp_path: Path) -> None:
    repo = copy_of_the_repository(tmp_path / "repo")
    last_output: str | None = None
    examples = worked_examples()
    assert [step for example in examples for step in example] == guide_steps()  # every step is in one
    for step in [step for example in examples if not followed_here(example) for step in example]:
        if step.what.startswith("edit "):
            edit(repo, step)
        elif step.what == "output":
            assert last_output is not None, "an output step before any command"
            check_output(step, last_output)
        else:
            last_output = run(repo, step)
    # The copy now serves the new operation and the new field: its generated code has them, and its
    # migrations end with the new one.
    generated = repo / "src" / "taskapi" / "generated"
    assert "reopenTask" in (generated / "server.py").read_text(encoding="utf-8")
    assert "class Tag(StrEnum)" in (generated / "models.py").read_text(encoding="utf-8")
    assert (repo / "src" / "taskapi" / "storage" / "migrations" / "versions" / "0004_task_tags.py").is_file()
