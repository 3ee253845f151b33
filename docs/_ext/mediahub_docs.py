"""Reference pages generated from the code, so they cannot fall behind it.

* ``{mediahub-settings}``: a table of every option in ``mediahub.conf.DEFAULTS``, with
  its default as written in ``conf.py`` and the comment above it.
* ``{command-help} NAME``: the ``--help`` of a management command.
"""

from __future__ import annotations

import ast
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives


def settings_rows() -> list[tuple[str, str, str]]:
    """(option, default as written, meaning) for every key of ``DEFAULTS``."""
    import mediahub.conf

    source = Path(mediahub.conf.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    dict_node = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign | ast.Assign)
        and "DEFAULTS" in ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
    )
    lines = source.splitlines()
    rows = []
    for key_node, value_node in zip(dict_node.keys, dict_node.values, strict=True):
        key = ast.literal_eval(key_node)
        default = ast.get_source_segment(source, value_node) or ""
        comment: list[str] = []
        number = key_node.lineno - 2  # the lines above the key, up to the previous key
        while number >= 0 and lines[number].strip().startswith("#"):
            comment.insert(0, lines[number].strip().lstrip("#").strip())
            number -= 1
        if not comment and rows and lines[key_node.lineno - 2].strip().startswith('"'):
            comment = [rows[-1][2]]  # consecutive keys under one comment share it
        meaning = " ".join(comment) or (rows[-1][2] if rows else "")
        rows.append((key, " ".join(default.split()), meaning))
    return rows


class SettingsTable(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        table = nodes.table(classes=["mediahub-settings"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (22, 28, 50):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["option", "default", "meaning"])
        body = nodes.tbody()
        group += body
        for key, default, meaning in settings_rows():
            row = nodes.row(ids=[f"setting-{key.lower().replace('_', '-')}"])
            for index, text in enumerate((key, default, meaning)):
                entry = nodes.entry()
                paragraph = nodes.paragraph()
                paragraph += nodes.literal(text=text) if index < 2 else nodes.Text(text)
                entry += paragraph
                row += entry
            body += row
        return [table]

    @staticmethod
    def _row(cells: list[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


class CommandHelp(Directive):
    required_arguments = 1
    has_content = False
    option_spec = {"name": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from django.core.management import get_commands, load_command_class

        name = self.arguments[0]
        app = get_commands().get(name)
        if app is None:
            raise self.error(f"no management command named {name!r}")
        command = load_command_class(app, name)
        parser = command.create_parser("manage.py", name)
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            parser.print_help()
        text = _without_django_options(buffer.getvalue())
        block = nodes.literal_block(text, text, language="text")
        return [block]


COMMON = re.compile(
    r"^  (--version|-v \{0,1,2,3\}.*|--settings SETTINGS|--pythonpath PYTHONPATH|--traceback|"
    r"--no-color|--force-color|--skip-checks)"
)


def _without_django_options(text: str) -> str:
    """Drop the options every Django command has (they are Django's to document)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if COMMON.match(line):
            skipping = True
            continue
        if skipping and line.startswith("      "):
            continue  # the option's wrapped description
        skipping = False
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def setup(app):
    app.add_directive("mediahub-settings", SettingsTable)
    app.add_directive("command-help", CommandHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
