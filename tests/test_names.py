from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousFileOperation

from mediahub.names import is_valid_name, join, validate_folder, validate_name


@pytest.mark.parametrize(
    "name",
    ["a.txt", "photos/2026/x.jpg", "ünïcødé/файл.pdf", "with space/in middle.txt", "a" * 255],
)
def test_canonical_names_are_accepted_unchanged(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/etc/passwd",
        "../secret.txt",
        "x/../secret.txt",
        "a/./b.txt",
        "a//b.txt",
        "a\\b.txt",
        "tab\there.txt",
        "nul\x00byte",
        "new\nline",
        "del\x7f",
        "a/",
        " leading.txt",
        "trailing /x.txt",
        "a" * 256,
        ("d/" * 600) + "x",
        None,
        b"bytes.txt",
    ],
)
def test_unsafe_names_are_refused(name):
    with pytest.raises(SuspiciousFileOperation):
        validate_name(name)
    assert not is_valid_name(name)


def test_folders_end_with_a_slash_and_root_is_empty():
    assert validate_folder("") == ""
    assert validate_folder("a/b/") == "a/b/"
    for bad in ("a/b", "/a/", "../", "a//"):
        with pytest.raises(SuspiciousFileOperation):
            validate_folder(bad)


def test_join_refuses_separators_in_the_file_name():
    assert join("a/", "b.txt") == "a/b.txt"
    with pytest.raises(SuspiciousFileOperation):
        join("a/", "../b.txt")
    with pytest.raises(SuspiciousFileOperation):
        join("a/", "c/b.txt")


@pytest.mark.parametrize(
    "name",
    [
        "invoice\u202efdp.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as "invoiceexe.pdf"
        "a\u202a.txt",
        "a\u2066b.txt",
        "a\u2069.txt",
        "a\u200f.txt",
        "a\u061c.txt",
    ],
)
def test_bidirectional_controls_are_refused(name):
    """They make a listed name read differently from the key (Trojan Source spoofing)."""
    assert not is_valid_name(name)


def test_emoji_sequences_with_zero_width_joiner_are_fine():
    assert is_valid_name("family \U0001f468\u200d\U0001f469\u200d\U0001f467.jpg")
