"""Sphinx configuration of mediahub's documentation (``make docs``).

Why Sphinx (with the Furo theme and MyST Markdown): the packages mediahub stands
beside (Django, django-storages, easy-thumbnails, django-filer, Wagtail) document
themselves with Sphinx; autodoc builds the reference from the docstrings the code
already has; Furo and MyST-Parser are actively maintained. MkDocs 1.x is effectively
unmaintained and Material for MkDocs has gone into maintenance mode, so the other
usual choice was not one to start on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

# autodoc imports mediahub's modules, which need configured settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django  # noqa: E402

django.setup()

import mediahub  # noqa: E402

project = "mediahub"
author = "mediahub contributors"
copyright = "mediahub contributors"  # noqa: A001
release = mediahub.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "mediahub_docs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md"]

myst_enable_extensions = ["colon_fence", "deflist", "fieldlist", "attrs_inline", "attrs_block"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}

# Intersphinx needs the network; the build is offline (CI has no access to other
# sites), so references to Django's docs are plain links.
intersphinx_mapping: dict = {}

# Docstrings were written for readers of the code: a name in them that Sphinx cannot
# resolve is not a broken page (nitpicky off); broken links between pages are errors.
nitpicky = False

html_theme = "furo"
html_title = f"mediahub {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": True,
}
