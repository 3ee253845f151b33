"""mediahub.http: Content-Disposition values that no file name can break."""

from __future__ import annotations

from email.message import Message
from urllib.parse import unquote

import pytest

from mediahub.http import (
    FALLBACK_FILENAME,
    MAX_FILENAME_LENGTH,
    ascii_filename,
    content_disposition,
    safe_filename,
)

HOSTILE = [
    'quote".pdf',
    "crlf\r\nSet-Cookie: session=stolen.txt",
    "lf\nLocation: http://evil.example/.txt",
    "nul\x00byte.txt",
    "../../etc/passwd",
    "C:\\Windows\\system32\\evil.exe",
    "dir/sub/report.pdf",
    "Résumé – final.pdf",
    "日本語のファイル.pdf",
    "emoji 😀.png",
    "bidi\u202etxt.exe",
    "semi;colon=and,comma.txt",
    "percent%22encoded.txt",
    "x" * 5000 + ".pdf",
    "",
    "...",
    "\r\n",
]


def parse(value: str) -> Message:
    message = Message()
    message["Content-Disposition"] = value
    return message


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_give_one_printable_ascii_header_value(name):
    value = content_disposition(name)
    assert value.isascii()
    assert all(32 <= ord(char) < 127 for char in value), value
    assert value.startswith('attachment; filename="')
    # Exactly one quoted filename, no stray quote or parameter from the name.
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "\\" not in fallback and "/" not in fallback
    assert value.count('"') == 2


@pytest.mark.parametrize("name", HOSTILE)
def test_filename_star_decodes_to_the_cleaned_name(name):
    value = content_disposition(name)
    expected = safe_filename(name)
    if "filename*=" in value:
        encoded = value.split("filename*=UTF-8''", 1)[1]
        assert unquote(encoded) == expected
        # The disposition and the two filename parameters, nothing injected.
        params = parse(value).get_params(header="content-disposition")
        assert [key for key, _value in params] == ["attachment", "filename", "filename"]
    else:
        assert value.endswith(f'filename="{expected}"')
        assert parse(value).get_filename() == expected


def test_path_separators_keep_only_the_last_segment():
    assert safe_filename("a/b/c.txt") == "c.txt"
    assert safe_filename("a\\b\\c.txt") == "c.txt"
    assert safe_filename("../../etc/passwd") == "passwd"


def test_control_and_bidi_characters_are_removed():
    assert safe_filename("a\r\nb\tc\x00d.txt") == "abcd.txt"
    assert safe_filename("evil\u202egnp.exe") == "evilgnp.exe"


def test_long_names_are_cut_keeping_the_extension():
    name = safe_filename("é" * 1000 + ".pdf")
    assert len(name) == MAX_FILENAME_LENGTH
    assert name.endswith(".pdf")


def test_empty_or_unprintable_names_fall_back():
    for name in ("", None, "...", " ", "\r\n", "dir/"):
        assert safe_filename(name) == FALLBACK_FILENAME


def test_ascii_fallback_strips_accents_and_replaces_the_rest():
    assert ascii_filename("Résumé.pdf") == "Resume.pdf"
    assert ascii_filename("日本.pdf") == "__.pdf"
    assert ascii_filename('a"b\\c.txt') == "a_b_c.txt"


def test_inline_and_attachment():
    assert content_disposition("a.pdf", inline=True) == 'inline; filename="a.pdf"'
    assert content_disposition("a.pdf") == 'attachment; filename="a.pdf"'


def test_non_ascii_names_carry_both_parameters():
    assert content_disposition("Résumé.pdf") == (
        "attachment; filename=\"Resume.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf"
    )


@pytest.mark.parametrize("name", ["a\uff0fb.txt", "a\u2215b\uff0f.txt", "\uff0f\uff0f.txt"])
def test_ascii_fallback_never_brings_back_a_path_separator(name):
    # NFKD turns the fullwidth solidus (U+FF0F) into "/": the fallback must not keep it.
    value = content_disposition(name)
    fallback = parse(value).get_param("filename", header="content-disposition")
    assert "/" not in fallback and "\\" not in fallback
    assert "/" not in ascii_filename(safe_filename(name))
