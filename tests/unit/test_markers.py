"""make test's PostgreSQL leg collects only the directories named by the Makefile's POSTGRES_DIRS: a test
marked postgresql anywhere else would silently never run on PostgreSQL."""

from __future__ import annotations

import re

from tests.conftest import ROOT

MARKED = re.compile(r"pytest\.mark\.postgresql\b")


def postgres_dirs() -> list[str]:
    [line] = [
        line
        for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
        if line.startswith("POSTGRES_DIRS :=")
    ]
    return line.split(":=", 1)[1].split()


def test_every_test_marked_postgresql_is_in_the_postgresql_legs_directories() -> None:
    dirs = postgres_dirs()
    assert dirs and all((ROOT / name).is_dir() for name in dirs), dirs
    marked = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("test_*.py")
        if MARKED.search(path.read_text(encoding="utf-8"))
    )
    assert marked, "no test is marked postgresql"
    outside = [name for name in marked if not any(name.startswith(f"{directory}/") for directory in dirs)]
    assert outside == [], f"marked postgresql outside POSTGRES_DIRS {dirs}: {outside}"
