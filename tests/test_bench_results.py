"""The benchmark tables the README and the docs show are the benches' own output, verbatim.

Each bench writes ``bench/results/<name>.md`` (``bench/_common.write_results``); the
performance page includes those files (MyST ``{include}``) and the README quotes their
tables. These tests check the text against the last committed run's files, not that a
re-run gives the same numbers (it would not, on a shared machine).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PERFORMANCE_PAGE = ROOT / "docs" / "explanation" / "performance.md"
HEADER = re.compile(r"^_Measured \d{4}-\d{2}-\d{2} on .+: `[^`]+`_$")
INCLUDE = re.compile(r"^(```+|:::+)\{include\}\s+(\S+)\s*$", re.MULTILINE)


def tables(text: str) -> list[str]:
    """Each Markdown table of ``text`` (a run of lines starting with ``|``), as one string."""
    found, current = [], []
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            current.append(line.strip())
        elif current:
            found.append("\n".join(current))
            current = []
    if current:
        found.append("\n".join(current))
    return found


def performance_section(readme: str) -> str:
    """The README's "Performance" section (up to the next heading of its level or above)."""
    match = re.search(r"^(#+) Performance\b.*$", readme, re.MULTILINE)
    if not match:
        return ""
    level = len(match.group(1))
    rest = readme[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def result_files() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(RESULTS.glob("*.md"))}


def normalised(table: str) -> str:
    return "\n".join(line.strip() for line in table.splitlines())


def assert_from_results(table: str, where: str) -> None:
    table = normalised(table)
    sources = [name for name, text in result_files().items() if table in normalised(text)]
    assert sources, (
        f"a table in {where} is not the verbatim content of any bench/results/*.md file "
        f"(re-run the bench or copy its table):\n{table[:400]}"
    )


def test_results_files_exist_and_say_where_they_come_from():
    files = result_files()
    assert {"sync.md", "filer_listing.md", "listing.md", "library.md"} <= set(files)
    for name, text in files.items():
        first = text.splitlines()[0]
        assert HEADER.match(first), f"bench/results/{name}: first line {first!r}"
        assert tables(text), f"bench/results/{name} has no table"


def test_performance_page_includes_results_files_that_exist():
    text = PERFORMANCE_PAGE.read_text(encoding="utf-8")
    included = [m.group(2) for m in INCLUDE.finditer(text)]
    assert included, "docs/explanation/performance.md includes no bench results"
    for target in included:
        path = (PERFORMANCE_PAGE.parent / target).resolve()
        assert path.parent == RESULTS, f"{target}: not a bench/results file"
        assert path.is_file(), f"{target}: no such results file"
    for table in tables(text):
        assert_from_results(table, "docs/explanation/performance.md")


def test_readme_performance_tables_are_results_verbatim():
    section = performance_section((ROOT / "README.md").read_text(encoding="utf-8"))
    for table in tables(section):
        assert_from_results(table, "README.md (Performance)")


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n| c |\n|---|", 2),
        ("no table here", 0),
    ],
)
def test_tables_are_found_as_blocks(text, count):
    assert len(tables(text)) == count


def test_a_table_that_drifted_from_its_results_file_is_caught(tmp_path, monkeypatch):
    (tmp_path / "x.md").write_text(
        "_Measured 2026-01-01 on a machine: `cmd`_\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "RESULTS", tmp_path)
    assert_from_results("| a | b |\n|---|---|\n| 1 | 2 |", "here")
    with pytest.raises(AssertionError, match="not the verbatim content"):
        assert_from_results("| a | b |\n|---|---|\n| 1 | 3 |", "here")
