"""The documentation is true: its Python runs, it names every check and setting, its
links resolve, and the README stays short.

Every ```python block in ``docs/**/*.md`` is run in a subprocess with the test settings
(an in-memory database, migrated) unless the line before it is ``{.fragment}`` (MyST
block attributes: a settings or URLconf excerpt that is not a program). A block that
configures Django itself (``settings.configure(``) runs as it is.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import checklinks  # noqa: E402
import mediahub_docs  # noqa: E402

from mediahub.testing.s3server import Layout  # noqa: E402

FENCE = re.compile(
    r"^(?P<attrs>\{[^}\n]*\}[ \t]*\n)?(?P<fence>```+)python[ \t]*\n(?P<code>.*?)^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PREAMBLE = """\
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
"""


def python_blocks() -> list[tuple[str, int, str, bool]]:
    """(page, line, code, runnable) of every ```python block of the docs."""
    blocks = []
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            runnable = ".fragment" not in (match.group("attrs") or "")
            rel = str(page.relative_to(DOCS))
            blocks.append((rel, line, match.group("code"), runnable))
    return blocks


BLOCKS = python_blocks()
RUNNABLE = [block for block in BLOCKS if block[3]]


@pytest.mark.parametrize(
    "page,line,code", [b[:3] for b in RUNNABLE], ids=[f"{b[0]}:{b[1]}" for b in RUNNABLE]
)
def test_python_snippet_runs(page, line, code, tmp_path):
    program = code if "settings.configure(" in code else PREAMBLE + code
    script = tmp_path / "snippet.py"
    script.write_text(program, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=str(ROOT),
        MEDIAHUB_DEMO_VAR=str(tmp_path / "var"),
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning:mediahub", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"docs/{page}, block at line {line} failed:\n{result.stdout}\n{result.stderr}"
    )


def test_every_python_block_is_valid_python():
    """Fragments are not run, but they must still parse (no pseudo-code in ```python)."""
    for page, line, code, _ in BLOCKS:
        try:
            ast.parse(textwrap.dedent(code))
        except SyntaxError as error:
            pytest.fail(f"docs/{page}:{line + (error.lineno or 1) - 1}: {error.msg}")


def test_the_tutorial_has_a_complete_program_that_runs():
    assert any(page.startswith("tutorial/") for page, *_ in RUNNABLE)


def test_snippet_finder_honours_the_fragment_marker():
    text = "x\n{.fragment}\n```python\nSETTING = 1\n```\n\n```python\nprint(1)\n```\n"
    found = [(m.group("code"), ".fragment" in (m.group("attrs") or "")) for m in FENCE.finditer(text)]
    assert found == [("SETTING = 1\n", True), ("print(1)\n", False)]


def registered_check_ids() -> set[str]:
    ids = set()
    for path in (ROOT / "mediahub").rglob("*.py"):
        ids.update(re.findall(r"[\"'](mediahub\.[EW]\d{3})[\"']", path.read_text(encoding="utf-8")))
    return ids


def test_every_system_check_id_is_documented():
    ids = registered_check_ids()
    assert {"mediahub.E001", "mediahub.E101", "mediahub.W001"} <= ids
    documented = (DOCS / "reference" / "checks.md").read_text(encoding="utf-8")
    missing = sorted(i for i in ids if f"`{i}`" not in documented)
    assert not missing, f"add these checks to docs/reference/checks.md: {missing}"


def test_checks_page_names_no_check_that_does_not_exist():
    documented = set(
        re.findall(r"`(mediahub\.[EW]\d{3})`", (DOCS / "reference" / "checks.md").read_text())
    )
    assert documented <= registered_check_ids()


def test_settings_table_lists_every_option_with_its_meaning():
    from mediahub.conf import DEFAULTS

    rows = mediahub_docs.settings_rows()
    assert [key for key, _, _ in rows] == list(DEFAULTS)
    undocumented = [key for key, _, meaning in rows if not meaning]
    assert not undocumented, f"add a comment above these DEFAULTS in mediahub/conf.py: {undocumented}"
    assert dict((k, d) for k, d, _ in rows)["UPLOAD_MAX_SIZE"] == "5 * 1024**3"


def test_command_help_leaves_out_djangos_common_options():
    text = """usage: manage.py x [-h] [--fix]

options:
  -h, --help            show this help message and exit
  --fix                 Repair.
  --version             Show program's version number and exit.
  -v {0,1,2,3}, --verbosity {0,1,2,3}
                        Verbosity level; 0=minimal output, 1=normal output,
                        2=verbose output, 3=very verbose output
  --settings SETTINGS   The Python path to a settings module.
  --skip-checks         Skip system checks.
"""
    out = mediahub_docs._without_django_options(text)
    assert "--fix" in out and "--help" in out
    assert "--settings" not in out and "Verbosity" not in out and "--skip-checks" not in out


def test_link_checker_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="a/page.html#here">ok</a><a href="a/page.html#gone">bad anchor</a>'
        '<a href="missing.html">bad page</a><a href="https://example.com/x">external</a>'
        '<a href="#top">self</a><img src="img.png"><span id="top"></span>'
    )
    (tmp_path / "a" / "page.html").write_text('<h1 id="here">x</h1><a href="../index.html">up</a>')
    problems = checklinks.broken_links(tmp_path)
    assert sorted(problems) == [
        "index.html: a/page.html#gone (no such anchor)",
        "index.html: img.png (no such file)",
        "index.html: missing.html (no such file)",
    ]


def test_every_part_has_a_globbed_toctree():
    for part in ("tutorial", "howto", "reference", "explanation"):
        index = (DOCS / part / "index.md").read_text()
        assert ":glob:" in index, part


def test_readme_is_short_and_its_local_links_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 210
    for command in ("make demo", "make test", "mediahub_doctor", "mediahub_audit"):
        assert command in readme
    for target in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", readme):
        assert (ROOT / target).exists(), target


def test_embedded_s3_server_prints_two_dsns_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "mediahub.testing.s3server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        public = process.stdout.readline().strip()
        private = process.stdout.readline().strip()
        assert public.startswith("DEFAULT_STORAGE_DSN='s3+http://")
        assert private.startswith("PRIVATE_STORAGE_DSN='s3+http://")
        from mediahub import dsn

        options = dsn.parse(public.split("=", 1)[1].strip("'"))["OPTIONS"]
        endpoint = options["endpoint_url"]
        layout = Layout(endpoint, "media-public", "media-private")
        for bucket in (layout.public_bucket, layout.private_bucket):
            layout.client().put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
        # The public bucket answers strangers (bucket policy), the private one does not.
        assert requests.get(f"{endpoint}/media-public/hello.txt", timeout=5).status_code == 200
        assert requests.get(f"{endpoint}/media-private/hello.txt", timeout=5).status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(endpoint, timeout=2)
