"""The media library's one exception: a refusal with a message for the user."""

from __future__ import annotations


class LibraryError(Exception):
    """An action the library refuses, with a message that says what to do."""
