"""django-filer on mediahub's storages.

Add ``"mediahub.contrib.filer"`` to ``INSTALLED_APPS`` (after ``"filer"``) and, in
settings::

    from mediahub.contrib.filer import filer_servers, filer_storages

    FILER_STORAGES = filer_storages()
    FILER_SERVERS = filer_servers()

Importing this package imports neither django-filer nor any model: it is safe in a
settings module.
"""

from __future__ import annotations

from mediahub.contrib.filer.conf import filer_servers, filer_storages

__all__ = ["filer_servers", "filer_storages"]
