"""Signed picks: the "Choose existing" popup hands the form a token, not a bare name.

Only a user allowed to browse a storage in the media library gets its pick tokens,
so a staff user who may edit a model with a private field cannot attach (and then
read through the field's signed link) a private object by typing its name.
"""

from __future__ import annotations

from django.core import signing

#: Salt of pick tokens: no other mediahub token validates here.
SALT = "mediahub.picker.v1"
#: A pick must be used in the form within this many seconds.
MAX_AGE = 24 * 3600


def pick_token(visibility: str, name: str) -> str:
    """A token naming ``name`` of the ``visibility`` storage, for the model-field widget."""
    return signing.dumps([visibility, name], salt=SALT, compress=True)


def read_pick_token(token: str, visibility: str) -> str:
    """The object name a pick token carries; ``signing.BadSignature`` when it is not valid here.

    Expired tokens raise ``signing.SignatureExpired`` (a ``BadSignature``); a token
    picked in the other storage is refused like a forged one.
    """
    data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    if (
        not isinstance(data, list)
        or len(data) != 2
        or data[0] != visibility
        or not isinstance(data[1], str)
    ):
        raise signing.BadSignature("Pick token for another storage.")
    return data[1]
