"""Admin registrations; each feature keeps its ModelAdmin in its own module."""

from __future__ import annotations
